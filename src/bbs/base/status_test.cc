#include "bbs/base/status.h"

#include <gtest/gtest.h>

namespace bbs {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCanonicalMessage) {
  Status s = NotFound();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(s.ToString(), "ResourceNotFound: the requested resource could not be found");
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(Exists());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kResourceExists);
}

}  // namespace
}  // namespace bbs
