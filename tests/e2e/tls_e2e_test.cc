// The API over mutual TLS against the real binary (api.md §1.1), and the plain-HTTP warning.

#include <openssl/ssl.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/http/test_client.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::testing {
namespace {

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bbs_ = std::make_unique<BbsProcess>(BBS_BINARY, dir_.path(), std::vector<std::string>{},
                                        /*tls=*/true);
    ASSERT_TRUE(bbs_->Start()) << bbs_->error();
    ASSERT_TRUE(bbs_->client_tls().has_value());
    pki_ = SharedTestPki();
    ASSERT_NE(pki_, nullptr);
  }

  bool Pings(const std::optional<http::TestClientTls>& tls) {
    http::TestClient client(static_cast<uint16_t>(bbs_->port()), tls, std::chrono::seconds(5));
    auto response = client.Send("POST", "/v1/ping");
    return response.ok() && response->status == 200 && response->body == std::string("\x08\x01", 2);
  }

  TempDir dir_;
  std::unique_ptr<BbsProcess> bbs_;
  const clients::TestPki* pki_ = nullptr;
};

TEST_F(TlsE2eTest, AClientWithACertificateFromTheCaIsServed) {
  EXPECT_TRUE(Pings(bbs_->client_tls()));
}

TEST_F(TlsE2eTest, AClientWithoutACertificateIsRefused) {
  EXPECT_FALSE(Pings(http::TestClientTls(pki_->ca_file, "", "")));
}

TEST_F(TlsE2eTest, AClientCertificateFromAnotherCaIsRefused) {
  EXPECT_FALSE(Pings(
      http::TestClientTls(pki_->ca_file, pki_->untrusted_cert_file, pki_->untrusted_key_file)));
}

TEST_F(TlsE2eTest, AClientOfferingOnlyTls11IsRefused) {
  http::TestClientTls tls = *bbs_->client_tls();
  tls.max_version = TLS1_1_VERSION;
  EXPECT_FALSE(Pings(tls));
}

TEST_F(TlsE2eTest, PlainHttpIsRefused) { EXPECT_FALSE(Pings(std::nullopt)); }

TEST(PlainHttpE2eTest, WarnsWhenServingPlainHttpOnANonLoopbackAddress) {
  TempDir dir;
  BbsProcess bbs(BBS_BINARY, dir.path(), {"-address=0.0.0.0:0"}, /*tls=*/false);
  ASSERT_TRUE(bbs.Start()) << bbs.error();
  int warnings = 0;
  for (const auto& line : bbs.Lines()) {
    if (line.find("bbs.warning-plain-http-on-non-loopback-address") != std::string::npos) {
      ++warnings;
    }
  }
  EXPECT_EQ(warnings, 1);

  TempDir loopback_dir;
  BbsProcess loopback(BBS_BINARY, loopback_dir.path(), {}, /*tls=*/false);
  ASSERT_TRUE(loopback.Start()) << loopback.error();
  for (const auto& line : loopback.Lines()) {
    EXPECT_EQ(line.find("warning-plain-http"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace bbs::testing
