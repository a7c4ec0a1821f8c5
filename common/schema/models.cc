#include "common/schema/models.h"

#include <utility>

#include "common/schema/fields.h"

namespace genkit {

namespace {

using T = FieldSpec::Type;
using F = Field;

constexpr const char* kDefaultTranslateText =
    "The Northern Lights, or Aurora Borealis, are one of nature's most spectacular displays. Charged particles "
    "from the Sun collide with gases in Earth's atmosphere, creating shimmering curtains of green, pink, and "
    "violet light that dance across the polar sky. For centuries, cultures around the world have woven myths "
    "and legends around these ethereal lights \u2014 the Vikings believed they were reflections of the "
    "Valkyries' armor, while the S\u00e1mi people considered them the energies of departed souls.";

}  // namespace

const ObjectSchema& joke_input_schema() {
  static const ObjectSchema s = object_schema(
      "JokeInput", {F("name").desc("Subject of the joke").def("Mittens").max_len(200),
                    F("username").desc("Username for personalization").nullable().def_null().max_len(200)});
  return s;
}

const ObjectSchema& joke_response_schema() {
  static const ObjectSchema s = object_schema(
      "JokeResponse", {F("joke").desc("AI-generated joke").required(), F("username").nullable().def_null()});
  return s;
}

const ObjectSchema& translate_input_schema() {
  static const ObjectSchema s = object_schema(
      "TranslateInput",
      {F("text").desc("Text to translate").def(kDefaultTranslateText).min_len(1).max_len(10000),
       F("target_language").desc("Target language").def("French").max_len(100)});
  return s;
}

const ObjectSchema& translation_result_schema() {
  static const ObjectSchema s = object_schema(
      "TranslationResult",
      {F("original_text").required(), F("translated_text").required(), F("target_language").required(),
       F("confidence").desc("Confidence level: high, medium, or low").required()});
  return s;
}

const ObjectSchema& image_input_schema() {
  static const ObjectSchema s = object_schema(
      "ImageInput",
      {F("image_url")
           .desc("URL of the image to describe")
           .def("https://upload.wikimedia.org/wikipedia/commons/4/47/PNG_transparency_demonstration_1.png")
           .max_len(2048)});
  return s;
}

const ObjectSchema& image_response_schema() {
  static const ObjectSchema s =
      object_schema("ImageResponse", {F("description").required(), F("image_url").required()});
  return s;
}

const ObjectSchema& character_input_schema() {
  static const ObjectSchema s = object_schema("CharacterInput", {F("name").def("Luna").min_len(1).max_len(200)});
  return s;
}

const ObjectSchema& skills_schema() {
  static const ObjectSchema s = object_schema(
      "Skills", {F("strength", T::kInteger).desc("Strength (0-100)").required().range(0, 100),
                 F("charisma", T::kInteger).desc("Charisma (0-100)").required().range(0, 100),
                 F("endurance", T::kInteger).desc("Endurance (0-100)").required().range(0, 100)});
  return s;
}

const ObjectSchema& rpg_character_schema() {
  static const ObjectSchema s = object_schema(
      "RpgCharacter",
      {F("name").required(), F("backStory").desc("Character backstory").required(),
       F("abilities", T::kStringArray).desc("List of abilities (3-4)").required().max_len(10),
       F("skills", T::kObject).required().object(skills_schema())});
  return s;
}

const ObjectSchema& chat_input_schema() {
  static const ObjectSchema s = object_schema(
      "ChatInput", {F("question").def("What is the best programming language?").min_len(1).max_len(5000)});
  return s;
}

const ObjectSchema& chat_response_schema() {
  static const ObjectSchema s =
      object_schema("ChatResponse", {F("answer").required(), F("persona").def("pirate captain")});
  return s;
}

const ObjectSchema& story_input_schema() {
  static const ObjectSchema s = object_schema("StoryInput", {F("topic").def("a brave cat").min_len(1).max_len(1000)});
  return s;
}

const ObjectSchema& code_input_schema() {
  static const ObjectSchema s = object_schema(
      "CodeInput",
      {F("description").def("a Python function that checks if a number is prime").min_len(1).max_len(10000),
       F("language").def("python").max_len(50).pattern("^[a-zA-Z#+]+$")});
  return s;
}

const ObjectSchema& code_output_schema() {
  static const ObjectSchema s = object_schema(
      "CodeOutput", {F("code").desc("The generated source code").required(),
                     F("language").desc("Programming language used").required(),
                     F("explanation").desc("Brief explanation of the code").required(),
                     F("filename").desc("Suggested filename (e.g. prime.py)").required()});
  return s;
}

const ObjectSchema& code_review_input_schema() {
  static const ObjectSchema s = object_schema(
      "CodeReviewInput", {F("code").def("def add(a, b):\n    return a + b").min_len(1).max_len(50000),
                          F("language").nullable().def_null().max_len(50)});
  return s;
}

std::vector<const ObjectSchema*> all_model_schemas() {
  return {&joke_input_schema(),      &joke_response_schema(),     &translate_input_schema(),
          &translation_result_schema(), &image_input_schema(),    &image_response_schema(),
          &character_input_schema(), &skills_schema(),            &rpg_character_schema(),
          &chat_input_schema(),      &chat_response_schema(),     &story_input_schema(),
          &code_input_schema(),      &code_output_schema(),       &code_review_input_schema()};
}

}  // namespace genkit
