#include "grpcd/status_mapping.h"

#include <gtest/gtest.h>

namespace genkit::grpcd {
namespace {

TEST(StatusMappingTest, SpecCodes) {
  EXPECT_EQ(grpc_code_for(Code::kInvalidArgument), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(grpc_code_for(Code::kResourceExhausted), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(grpc_code_for(Code::kUnavailable), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(grpc_code_for(Code::kUpstream), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(grpc_code_for(Code::kDeadlineExceeded), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(grpc_code_for(Code::kInternal), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(grpc_code_for(Code::kCancelled), grpc::StatusCode::CANCELLED);
}

TEST(StatusMappingTest, InternalDetailsNeverLeak) {
  grpc::Status s = grpc_status_for(internal_error("segfault at 0xdeadbeef in parser.cc"), nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message().find("deadbeef"), std::string::npos);
}

TEST(StatusMappingTest, ValidationMessagesReachTheClient) {
  grpc::Status s = grpc_status_for(invalid_argument("name: String should have at most 200 characters"), nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "name: String should have at most 200 characters");
  EXPECT_TRUE(grpc_status_for(Status::ok(), nullptr).ok());
}

}  // namespace
}  // namespace genkit::grpcd
