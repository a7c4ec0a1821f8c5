// The flows' self-registration (common/flows/registration.h): every file of
// common/flows/ is linked and registered, in the order of their names, and
// register_builtin_flows() refuses a name taken twice.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/flows/flows.h"
#include "common/flows/registration.h"
#include "common/runtime/registry.h"
#include "common/schema/models.h"

namespace genkit {
namespace {

std::vector<std::string> names(const Registry& registry) {
  std::vector<std::string> out;
  for (const FlowAction* f : registry.flows()) out.push_back(f->name);
  return out;
}

TEST(FlowRegistrationTest, EveryFlowFileIsLinkedAndRegistered) {
  EXPECT_EQ(registered_flow_factories().size(), 8u);
  Registry registry;
  ASSERT_TRUE(register_builtin_flows(registry).is_ok());
  EXPECT_EQ(names(registry),
            (std::vector<std::string>{"describe_image", "generate_character", "generate_code", "pirate_chat",
                                      "review_code", "tell_joke", "tell_story", "translate_text"}));
  const FlowAction* joke = registry.flow("tell_joke");
  ASSERT_TRUE(joke);
  EXPECT_EQ(joke->input, &joke_input_schema());
  EXPECT_TRUE(joke->streams);
  EXPECT_FALSE(joke->cacheable);
  const FlowAction* translate = registry.flow("translate_text");
  ASSERT_TRUE(translate);
  EXPECT_TRUE(translate->cacheable);
  EXPECT_FALSE(translate->streams);
  EXPECT_EQ(translate->output_schema.view()["required"].size(), 4u);
  const FlowAction* chat = registry.flow("pirate_chat");
  ASSERT_TRUE(chat);
  EXPECT_FALSE(chat->cacheable || chat->streams);
}

TEST(FlowRegistrationTest, ANameTakenTwiceIsRefused) {
  Registry registry;
  registry.add_flow(make_flow("tell_story", story_input_schema(), Json::object(), [](FlowRunPtr) {}));
  Status s = register_builtin_flows(registry);
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("tell_story is registered twice"), std::string::npos) << s.message();
}

TEST(FlowRegistrationTest, MakeFlowSetsTheKind) {
  auto fn = [](FlowRunPtr) {};
  EXPECT_FALSE(make_flow("a", story_input_schema(), Json::object(), fn).streams);
  EXPECT_TRUE(make_flow("a", story_input_schema(), Json::object(), fn, FlowKind::kStreams).streams);
  EXPECT_TRUE(make_flow("a", story_input_schema(), Json::object(), fn, FlowKind::kCacheable).cacheable);
}

}  // namespace
}  // namespace genkit
