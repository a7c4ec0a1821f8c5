// A flow that only the test binary genkit-endpoints-extra-flow has (it is
// built from the server's sources plus this one file, tests/CMakeLists.txt):
// it shows that a flow is one file. tests/integration/extra_flow_test.cc
// finds it on the flow server and /openapi.json. It is written as a file of
// common/flows/ would be (see README, "Use as a template: add a flow"); a
// pure function, no model call, so the test is deterministic.
#include "common/flows/flow_helpers.h"
#include "common/schema/fields.h"

namespace genkit {

namespace {

const ObjectSchema& word_count_input() {
  static const ObjectSchema s =
      object_schema("WordCountInput", {Field("text").desc("Text to count the words of").required().max_len(10000)});
  return s;
}

const ObjectSchema& word_count_output() {
  static const ObjectSchema s =
      object_schema("WordCountOutput", {Field("words", Field::Type::kInteger).desc("Number of words").required()});
  return s;
}

// Words are runs of characters other than ASCII whitespace.
void word_count(FlowRunPtr run) {
  std::string text = text_of(run->input()["text"]);
  int words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  Json out = Json::object();
  out.set("words", Json::number(words));
  run->finish(std::move(out));
}

}  // namespace

GENKIT_REGISTER_FLOW([] {
  return make_flow("word_count", word_count_input(), word_count_output().json_schema(), word_count,
                   FlowKind::kCacheable);
});

}  // namespace genkit
