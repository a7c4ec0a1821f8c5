#include "grpcd/proto_mapping.h"

#include <google/protobuf/descriptor.h>

#include <cmath>
#include <string>

namespace genkit::grpcd {

namespace {

void set_if_given(Json& body, const char* key, const std::string& value) {
  if (!value.empty()) body.set(key, Json::string(value));
}

Status unusable(const char* what) {
  return internal_error(std::string("the flow's output does not fit the reply message: ") + what);
}

// A string member of the flow's output, or an error naming it.
Status take_string(JsonView object, const char* key, std::string* out) {
  JsonView v = object[key];
  if (!v.is_string()) return unusable(key);
  *out = std::string(v.as_string());
  return Status::ok();
}

Status take_int32(JsonView object, const char* key, int32_t* out) {
  JsonView v = object[key];
  if (!v.is_integer() || std::fabs(v.as_number()) > 2147483647.0) return unusable(key);
  *out = static_cast<int32_t>(v.as_number());
  return Status::ok();
}

// Flows whose output is one text: it must be a string.
Status take_text(JsonView output, std::string* out) {
  if (!output.is_string()) return unusable("text");
  *out = std::string(output.as_string());
  return Status::ok();
}

}  // namespace

Status nul_free(const google::protobuf::Message& request) {
  const google::protobuf::Descriptor* type = request.GetDescriptor();
  const google::protobuf::Reflection* fields = request.GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = type->field(i);
    if (f->type() != google::protobuf::FieldDescriptor::TYPE_STRING || f->is_repeated()) continue;
    if (fields->GetString(request, f).find('\0') != std::string::npos) {
      return invalid_argument(f->name() + ": a NUL character (\\u0000) is not accepted");
    }
  }
  return Status::ok();
}

Result<Json> checked_input(const google::protobuf::Message& request, Json mapped) {
  Status s = nul_free(request);
  if (!s.is_ok()) return s;
  return mapped;
}

Json joke_input(const pb::JokeRequest& req) {
  Json body = Json::object();
  set_if_given(body, "name", req.name());
  set_if_given(body, "username", req.username());
  return body;
}

Json translate_input(const pb::TranslateRequest& req) {
  Json body = Json::object();
  set_if_given(body, "text", req.text());
  set_if_given(body, "target_language", req.target_language());
  return body;
}

Json image_input(const pb::ImageRequest& req) {
  Json body = Json::object();
  set_if_given(body, "image_url", req.image_url());
  return body;
}

Json character_input(const pb::CharacterRequest& req) {
  Json body = Json::object();
  set_if_given(body, "name", req.name());
  return body;
}

Json chat_input(const pb::ChatRequest& req) {
  Json body = Json::object();
  set_if_given(body, "question", req.question());
  return body;
}

Json story_input(const pb::StoryRequest& req) {
  Json body = Json::object();
  set_if_given(body, "topic", req.topic());
  return body;
}

Json code_input(const pb::CodeRequest& req) {
  Json body = Json::object();
  set_if_given(body, "description", req.description());
  set_if_given(body, "language", req.language());
  return body;
}

Json review_input(const pb::CodeReviewRequest& req) {
  Json body = Json::object();
  set_if_given(body, "code", req.code());
  set_if_given(body, "language", req.language());
  return body;
}

Status fill_joke(JsonView output, JsonView input, pb::JokeResponse* out) {
  Status s = take_text(output, out->mutable_joke());
  if (input["username"].is_string()) out->set_username(std::string(input["username"].as_string()));
  return s;
}

Status fill_translation(JsonView output, JsonView, pb::TranslationResponse* out) {
  Status s = take_string(output, "original_text", out->mutable_original_text());
  if (s.is_ok()) s = take_string(output, "translated_text", out->mutable_translated_text());
  if (s.is_ok()) s = take_string(output, "target_language", out->mutable_target_language());
  if (s.is_ok()) s = take_string(output, "confidence", out->mutable_confidence());
  return s;
}

Status fill_image(JsonView output, JsonView input, pb::ImageResponse* out) {
  Status s = take_text(output, out->mutable_description());
  out->set_image_url(std::string(input["image_url"].as_string()));
  return s;
}

Status fill_character(JsonView output, JsonView, pb::RpgCharacter* out) {
  Status s = take_string(output, "name", out->mutable_name());
  if (s.is_ok()) s = take_string(output, "backStory", out->mutable_back_story());
  JsonView abilities = output["abilities"];
  if (s.is_ok() && !abilities.is_array()) s = unusable("abilities");
  for (std::size_t i = 0; s.is_ok() && i < abilities.size(); ++i) {
    if (!abilities.at(i).is_string()) s = unusable("abilities");
    else out->add_abilities(std::string(abilities.at(i).as_string()));
  }
  JsonView skills = output["skills"];
  int32_t strength = 0, charisma = 0, endurance = 0;
  if (s.is_ok()) s = take_int32(skills, "strength", &strength);
  if (s.is_ok()) s = take_int32(skills, "charisma", &charisma);
  if (s.is_ok()) s = take_int32(skills, "endurance", &endurance);
  pb::Skills* to = out->mutable_skills();
  to->set_strength(strength);
  to->set_charisma(charisma);
  to->set_endurance(endurance);
  return s;
}

Status fill_chat(JsonView output, JsonView, pb::ChatResponse* out) {
  out->set_persona("pirate captain");
  return take_text(output, out->mutable_answer());
}

Status fill_code(JsonView output, JsonView, pb::CodeResponse* out) {
  Status s = take_string(output, "code", out->mutable_code());
  if (s.is_ok()) s = take_string(output, "language", out->mutable_language());
  if (s.is_ok()) s = take_string(output, "explanation", out->mutable_explanation());
  if (s.is_ok()) s = take_string(output, "filename", out->mutable_filename());
  return s;
}

Status fill_review(JsonView output, JsonView, pb::CodeReviewResponse* out) {
  // The review is whatever JSON the prompt produced, sent as its text.
  if (!output.present()) return unusable("review");
  out->set_review(output.dump());
  return Status::ok();
}

}  // namespace genkit::grpcd
