#include "common/prompt/handlebars.h"

#include <gtest/gtest.h>

#include <string>

namespace genkit {
namespace {

Result<std::vector<Message>> try_render(std::string_view tpl, std::string_view input = "{}") {
  Result<HandlebarsTemplate> t = HandlebarsTemplate::parse(tpl);
  if (!t.ok()) return t.status();
  Result<Json> in = Json::parse(input);
  if (!in.ok()) return in.status();
  return t->render(*in);
}

std::vector<Message> render(std::string_view tpl, std::string_view input = "{}") {
  Result<std::vector<Message>> m = try_render(tpl, input);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : std::vector<Message>{};
}

// All text of all messages, concatenated.
std::string text(std::string_view tpl, std::string_view input = "{}") {
  std::string out;
  for (const Message& m : render(tpl, input)) out += m.text();
  return out;
}

std::string parse_error(std::string_view tpl) {
  Result<HandlebarsTemplate> t = HandlebarsTemplate::parse(tpl);
  EXPECT_FALSE(t.ok()) << "template parsed: " << tpl;
  return t.ok() ? "" : t.status().message();
}

TEST(HandlebarsValues, VariablesAndPaths) {
  EXPECT_EQ(text("Hello {{name}}!", R"({"name":"World"})"), "Hello World!");
  EXPECT_EQ(text("{{a.b.c}}-{{a/b/c}}", R"({"a":{"b":{"c":"deep"}}})"), "deep-deep");
  EXPECT_EQ(text("[{{missing}}][{{a.missing.x}}]", R"({"a":{}})"), "[][]");
  EXPECT_EQ(text("{{items.1}} {{items.length}}", R"({"items":["x","y"]})"), "y 2");
  EXPECT_EQ(text("{{[odd key]}}", R"({"odd key":"ok"})"), "ok");
  EXPECT_EQ(text("{{this.name}} {{./name}}", R"({"name":"n"})"), "n n");
}

TEST(HandlebarsValues, StringifiesLikeJavaScript) {
  EXPECT_EQ(text("{{i}} {{f}} {{t}} {{n}}|", R"({"i":42,"f":2.5,"t":true,"n":null})"), "42 2.5 true |");
  EXPECT_EQ(text("{{big}} {{small}} {{neg}}", R"({"big":1e21,"small":1e-7,"neg":-0.1})"), "1e+21 1e-7 -0.1");
  EXPECT_EQ(text("{{a}} {{o}}", R"({"a":[1,"x",null,[2,3]],"o":{"k":1}})"), "1,x,,2,3 [object Object]");
}

TEST(HandlebarsValues, NoHtmlEscapingAndTripleStash) {
  const char* in = R"({"x":"<b>\"Tom\" & 'Jerry'</b>"})";
  EXPECT_EQ(text("{{x}}", in), "<b>\"Tom\" & 'Jerry'</b>");
  EXPECT_EQ(text("{{{x}}}", in), "<b>\"Tom\" & 'Jerry'</b>");
  EXPECT_EQ(text("{{& x}}", in), "<b>\"Tom\" & 'Jerry'</b>");
}

TEST(HandlebarsValues, EscapedMustacheIsLiteral) {
  EXPECT_EQ(text("\\{{name}} {{name}}", R"({"name":"n"})"), "{{name}} n");
}

TEST(HandlebarsBlocks, IfElseAndTruthiness) {
  const char* tpl = "{{#if v}}yes{{else}}no{{/if}}";
  EXPECT_EQ(text(tpl, R"({"v":true})"), "yes");
  EXPECT_EQ(text(tpl, R"({"v":"s"})"), "yes");
  EXPECT_EQ(text(tpl, R"({"v":1})"), "yes");
  EXPECT_EQ(text(tpl, R"({"v":[0]})"), "yes");
  EXPECT_EQ(text(tpl, R"({"v":{}})"), "yes");
  for (const char* falsy : {R"({"v":false})", R"({"v":null})", "{}", R"({"v":""})", R"({"v":0})", R"({"v":[]})"}) {
    EXPECT_EQ(text(tpl, falsy), "no") << falsy;
  }
  EXPECT_EQ(text("{{#if v}}yes{{/if}}", "{}"), "");
}

TEST(HandlebarsBlocks, UnlessAndElseIfChain) {
  EXPECT_EQ(text("{{#unless v}}off{{else}}on{{/unless}}", R"({"v":false})"), "off");
  EXPECT_EQ(text("{{#unless v}}off{{else}}on{{/unless}}", R"({"v":true})"), "on");
  const char* chain = "{{#if a}}A{{else if b}}B{{else unless c}}notC{{else}}C{{/if}}";
  EXPECT_EQ(text(chain, R"({"a":1})"), "A");
  EXPECT_EQ(text(chain, R"({"b":1})"), "B");
  EXPECT_EQ(text(chain, "{}"), "notC");
  EXPECT_EQ(text(chain, R"({"c":1})"), "C");
}

TEST(HandlebarsBlocks, EachOverArray) {
  const char* in = R"({"items":["a","b","c"]})";
  EXPECT_EQ(text("{{#each items}}{{@index}}={{this}}{{#if @first}}(first){{/if}}{{#if @last}}(last){{/if}};{{/each}}", in),
            "0=a(first);1=b;2=c(last);");
  EXPECT_EQ(text("{{#each items}}{{@key}}{{/each}}", in), "012");
  EXPECT_EQ(text("{{#each items}}x{{else}}empty{{/each}}", R"({"items":[]})"), "empty");
  EXPECT_EQ(text("{{#each items}}x{{else}}empty{{/each}}", "{}"), "empty");
  EXPECT_EQ(text("{{#each items}}x{{else}}empty{{/each}}", R"({"items":"str"})"), "empty");
}

TEST(HandlebarsBlocks, EachOverObjectWithKey) {
  EXPECT_EQ(text("{{#each o}}{{@index}}:{{@key}}={{this}}{{#unless @last}},{{/unless}}{{/each}}",
                 R"({"o":{"x":1,"y":"two"}})"),
            "0:x=1,1:y=two");
  EXPECT_EQ(text("{{#each o}}x{{else}}none{{/each}}", R"({"o":{}})"), "none");
}

TEST(HandlebarsBlocks, EachOfObjectsWithParentAndRootAccess) {
  const char* in = R"({"title":"T","people":[{"name":"Ann","tags":["a","b"]},{"name":"Bob","tags":[]}]})";
  EXPECT_EQ(text("{{#each people}}{{name}}@{{../title}}/{{@root.title}}[{{#each tags}}{{this}}{{../name}}{{/each}}]{{/each}}", in),
            "Ann@T/T[aAnnbAnn]Bob@T/T[]");
}

TEST(HandlebarsBlocks, NestedEachIndexIsInnermost) {
  const char* in = R"({"rows":[[1,2],[3]]})";
  EXPECT_EQ(text("{{#each rows}}{{#each this}}{{@index}}{{this}} {{/each}}|{{/each}}", in), "01 12 |03 |");
  EXPECT_EQ(text("{{#each rows}}{{#if @first}}F{{@index}}{{/if}}{{/each}}", in), "F0");
}

TEST(HandlebarsBlocks, BlockParamsAndWith) {
  const char* in = R"({"list":["p","q"],"user":{"name":"Ann"},"obj":{"k":"v"}})";
  EXPECT_EQ(text("{{#each list as |item i|}}{{i}}{{item}}{{/each}}", in), "0p1q");
  EXPECT_EQ(text("{{#each obj as |val key|}}{{key}}={{val}}{{/each}}", in), "k=v");
  EXPECT_EQ(text("{{#with user}}{{name}}{{/with}} {{#with user as |u|}}{{u.name}}{{/with}}", in), "Ann Ann");
  EXPECT_EQ(text("{{#with nobody}}x{{else}}none{{/with}}", in), "none");
}

TEST(HandlebarsBlocks, IfEquals) {
  EXPECT_EQ(text("{{#ifEquals a \"x\"}}same{{else}}diff{{/ifEquals}}", R"({"a":"x"})"), "same");
  EXPECT_EQ(text("{{#ifEquals a 2}}same{{else}}diff{{/ifEquals}}", R"({"a":3})"), "diff");
  EXPECT_EQ(text("{{#unlessEquals a b}}diff{{/unlessEquals}}", R"({"a":1,"b":2})"), "diff");
}

TEST(HandlebarsBlocks, DeepNestingWithinLimitWorks) {
  std::string tpl;
  for (int i = 0; i < 64; ++i) tpl += "{{#if v}}";
  tpl += "deep";
  for (int i = 0; i < 64; ++i) tpl += "{{/if}}";
  EXPECT_EQ(text(tpl, R"({"v":true})"), "deep");
}

TEST(HandlebarsSyntax, Comments) {
  EXPECT_EQ(text("a{{! short }}b{{!-- long }} with braces --}}c", "{}"), "abc");
  EXPECT_EQ(text("a\n{{! standalone comment }}\nb", "{}"), "a\nb");
}

TEST(HandlebarsSyntax, WhitespaceControl) {
  const char* in = R"({"x":"X","l":[1,2]})";
  EXPECT_EQ(text("a   {{~x~}}   b", in), "aXb");
  EXPECT_EQ(text("a \n {{~x}} \n b", in), "aX \n b");
  EXPECT_EQ(text("[ {{~#each l~}} {{this}} {{~/each~}} ]", in), "[12]");
  EXPECT_EQ(text("a  {{~{x}~}}  b", in), "aXb");
  EXPECT_EQ(text("a {{~! comment ~}} b", in), "ab");
}

TEST(HandlebarsSyntax, StandaloneBlockLinesAreRemoved) {
  const char* tpl =
      "Items:\n"
      "{{#each items}}\n"
      "  - {{this}}\n"
      "{{/each}}\n"
      "{{#if note}}\n"
      "Note: {{note}}\n"
      "{{else}}\n"
      "No note.\n"
      "{{/if}}\n"
      "End";
  EXPECT_EQ(text(tpl, R"({"items":["a","b"]})"), "Items:\n  - a\n  - b\nNo note.\nEnd");
  EXPECT_EQ(text(tpl, R"({"items":[],"note":"n"})"), "Items:\nNote: n\nEnd");
}

TEST(HandlebarsHelpers, Json) {
  const char* in = R"({"o":{"a":[1,2.5,"s\"q"],"b":null,"e":{},"z":[]},"s":"x"})";
  EXPECT_EQ(text("{{json o}}", in), R"({"a":[1,2.5,"s\"q"],"b":null,"e":{},"z":[]})");
  EXPECT_EQ(text("{{json s}}|{{json missing}}|{{json 3}}", in), "\"x\"||3");
  EXPECT_EQ(text("{{json o indent=2}}", in),
            "{\n  \"a\": [\n    1,\n    2.5,\n    \"s\\\"q\"\n  ],\n  \"b\": null,\n  \"e\": {},\n  \"z\": []\n}");
  EXPECT_EQ(text("{{{json this}}}", R"({"k":1})"), R"({"k":1})");
}

TEST(HandlebarsHelpers, RoleSwitchingMakesMessages) {
  std::vector<Message> m = render(
      "{{role \"system\"}}You are helpful.\n{{role \"user\"}}Hi {{name}}\n{{role \"model\"}}Hello!{{role \"user\"}}More",
      R"({"name":"Ann"})");
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].role, Role::kSystem);
  EXPECT_EQ(m[0].text(), "You are helpful.\n");
  EXPECT_EQ(m[1].role, Role::kUser);
  EXPECT_EQ(m[1].text(), "Hi Ann\n");
  EXPECT_EQ(m[2].role, Role::kModel);
  EXPECT_EQ(m[2].text(), "Hello!");
  EXPECT_EQ(m[3].role, Role::kUser);
  EXPECT_EQ(m[3].text(), "More");
}

TEST(HandlebarsHelpers, DefaultRoleIsUserAndBlankMessagesAreDropped) {
  std::vector<Message> m = render("  \n{{role \"system\"}}  \n {{role \"model\"}}answer\n\n");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].role, Role::kModel);
  m = render("plain text");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].role, Role::kUser);
  EXPECT_TRUE(render("   \n\t").empty());
}

TEST(HandlebarsHelpers, RoleFromVariable) {
  std::vector<Message> m = render("{{#each turns}}{{role r}}{{t}}{{/each}}",
                                  R"({"turns":[{"r":"user","t":"q"},{"r":"model","t":"a"}]})");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].role, Role::kModel);
  EXPECT_EQ(m[1].text(), "a");
  Result<std::vector<Message>> bad = try_render("{{role r}}x", R"({"r":"wizard"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("wizard"), std::string::npos);
}

TEST(HandlebarsHelpers, MediaParts) {
  std::vector<Message> m = render(
      "Describe {{media url=photo}} and {{media url=\"https://x/y.png\" contentType=\"image/png\"}}\n{{media url=none}}",
      R"({"photo":"data:image/jpeg;base64,AAAA"})");
  ASSERT_EQ(m.size(), 1u);
  const std::vector<Part>& c = m[0].content;
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].kind, Part::Kind::kText);
  EXPECT_EQ(c[0].text, "Describe ");
  EXPECT_EQ(c[1].kind, Part::Kind::kMedia);
  EXPECT_EQ(c[1].media_url, "data:image/jpeg;base64,AAAA");
  EXPECT_EQ(c[1].media_content_type, "");
  EXPECT_EQ(c[2].text, " and ");
  EXPECT_EQ(c[3].kind, Part::Kind::kMedia);
  EXPECT_EQ(c[3].media_url, "https://x/y.png");
  EXPECT_EQ(c[3].media_content_type, "image/png");
}

TEST(HandlebarsHelpers, MediaOnlyMessageIsKept) {
  std::vector<Message> m = render("{{role \"user\"}}\n{{media url=u}}\n", R"({"u":"https://a/b.jpg"})");
  ASSERT_EQ(m.size(), 1u);
  ASSERT_EQ(m[0].content.size(), 1u);
  EXPECT_EQ(m[0].content[0].kind, Part::Kind::kMedia);
}

TEST(HandlebarsHelpers, HistoryIsANoOp) { EXPECT_EQ(text("a{{history}}b"), "ab"); }

TEST(HandlebarsErrors, ReportLineNumbers) {
  EXPECT_NE(parse_error("one\ntwo\n{{#if x}}\nnever closed").find("line 3: {{#if}} is never closed"),
            std::string::npos);
  EXPECT_NE(parse_error("a\n{{/each}}").find("line 2: unexpected {{/each}}"), std::string::npos);
  EXPECT_NE(parse_error("{{#if a}}\n{{#each b}}\n{{/if}}").find("line 3: {{/if}} does not match {{#each}} opened on line 2"),
            std::string::npos);
  EXPECT_NE(parse_error("x\ny {{name").find("line 2: unterminated '{{'"), std::string::npos);
  EXPECT_NE(parse_error("\n\n{{!-- open").find("line 3: unterminated comment"), std::string::npos);
  EXPECT_NE(parse_error("{{{x}}").find("line 1: unterminated '{{{'"), std::string::npos);
  EXPECT_NE(parse_error("a\n{{else}}").find("line 2: {{else}} outside a block"), std::string::npos);
}

TEST(HandlebarsErrors, RejectsUnknownAndMalformedTags) {
  EXPECT_NE(parse_error("{{shout name}}").find("unknown helper 'shout'"), std::string::npos);
  EXPECT_NE(parse_error("{{#loop x}}{{/loop}}").find("unknown block helper '#loop'"), std::string::npos);
  EXPECT_NE(parse_error("{{> partial}}").find("partials are not supported"), std::string::npos);
  EXPECT_NE(parse_error("{{json (foo)}}").find("subexpressions"), std::string::npos);
  EXPECT_NE(parse_error("{{json}}").find("{{json}} takes 1 argument"), std::string::npos);
  EXPECT_NE(parse_error("{{role \"wizard\"}}").find("unknown role"), std::string::npos);
  EXPECT_NE(parse_error("{{media contentType=\"image/png\"}}").find("needs url="), std::string::npos);
  EXPECT_NE(parse_error("{{#if}}x{{/if}}").find("takes 1 argument"), std::string::npos);
  EXPECT_NE(parse_error("{{#if a}}x{{else}}y{{else}}z{{/if}}").find("second {{else}}"), std::string::npos);
  EXPECT_NE(parse_error("{{}}").find("empty tag"), std::string::npos);
  EXPECT_NE(parse_error("{{a..b}}").find("invalid path"), std::string::npos);
  EXPECT_NE(parse_error("{{@}}").find("invalid data variable"), std::string::npos);
  EXPECT_NE(parse_error("{{json \"open}}").find("unterminated string"), std::string::npos);
}

TEST(HandlebarsErrors, NestingIsBounded) {
  std::string tpl;
  for (int i = 0; i < 65; ++i) tpl += "{{#if v}}";
  for (int i = 0; i < 65; ++i) tpl += "{{/if}}";
  EXPECT_NE(parse_error(tpl).find("nested deeper than 64"), std::string::npos);
  std::string hostile(100000, '{');
  EXPECT_FALSE(HandlebarsTemplate::parse(hostile).ok());
  std::string opens;
  for (int i = 0; i < 10000; ++i) opens += "{{#each x}}";
  EXPECT_FALSE(HandlebarsTemplate::parse(opens).ok());
}

TEST(HandlebarsErrors, FirstLineOffsetsMessages) {
  Result<HandlebarsTemplate> t = HandlebarsTemplate::parse("ok\n{{#if x}}", 20);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("line 21:"), std::string::npos) << t.status().message();
}

TEST(HandlebarsReuse, ParsedOnceRenderedManyTimes) {
  Result<HandlebarsTemplate> t = HandlebarsTemplate::parse("Hi {{n}}");
  ASSERT_TRUE(t.ok());
  HandlebarsTemplate copy = *t;
  for (const char* n : {"a", "b"}) {
    Result<Json> in = Json::parse(std::string(R"({"n":")") + n + "\"}");
    Result<std::vector<Message>> m = copy.render(*in);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ((*m)[0].text(), std::string("Hi ") + n);
  }
  EXPECT_TRUE(HandlebarsTemplate().render(Json::object()).value().empty());
}

}  // namespace
}  // namespace genkit
