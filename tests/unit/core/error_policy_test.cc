#include "core/error_policy.h"

#include <gtest/gtest.h>

namespace openbits::core {
namespace {

TEST(ErrorPolicyTest, HttpStatusClassesFollowBits) {
  for (int status : {400, 401, 403, 404, 407, 410, 416}) {
    EXPECT_FALSE(IsTransientError(HttpStatusToHresult(status))) << status;
  }
  for (int status : {408, 409, 500, 502, 503, 504}) {
    EXPECT_TRUE(IsTransientError(HttpStatusToHresult(status))) << status;
  }
  EXPECT_FALSE(IsTransientError(HttpStatusToHresult(501)));
  EXPECT_FALSE(IsTransientError(HttpStatusToHresult(505)));
}

TEST(ErrorPolicyTest, TransportFailuresRetryAndProtocolFailuresStop) {
  EXPECT_TRUE(IsTransientError(hr::WINHTTP_CANNOT_CONNECT));
  EXPECT_TRUE(IsTransientError(hr::WINHTTP_NAME_NOT_RESOLVED));
  EXPECT_TRUE(IsTransientError(hr::WINHTTP_TIMEOUT));
  EXPECT_TRUE(IsTransientError(hr::BG_E_CONNECTION_CLOSED));
  EXPECT_TRUE(IsTransientError(hr::ERROR_DISK_FULL));
  EXPECT_FALSE(IsTransientError(hr::BG_E_INSUFFICIENT_RANGE_SUPPORT));
  EXPECT_FALSE(IsTransientError(hr::BG_E_MISSING_FILE_SIZE));
  EXPECT_FALSE(IsTransientError(hr::WINHTTP_SECURE_FAILURE));
  EXPECT_FALSE(IsTransientError(hr::E_ACCESSDENIED));
}

}  // namespace
}  // namespace openbits::core
