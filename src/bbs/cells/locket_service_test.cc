#include "bbs/cells/locket_service.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bbs/base/status_matchers.h"
#include "bbs/cells/cell_presence_json.h"
#include "bbs/cells/locket_cell_directory.h"
#include "bbs/cells/locket_client.h"
#include "bbs/cells/presence_registry.h"
#include "bbs/clients/test_pki.h"

// gRPC suites are named Grpc* so that a TSan run can leave them out (toolchain.md).

namespace bbs::cells {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::IsEmpty;

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

Logger NullLogger() { return Logger(LogSink::Null(), "bbs"); }

models::LockRequest PresenceLock(const std::string& cell_id, const std::string& owner,
                                 const std::string& value, int64_t ttl = 15) {
  models::LockRequest request;
  models::Resource* r = request.mutable_resource();
  r->set_key(cell_id);
  r->set_owner(owner);
  r->set_value(value);
  r->set_type("presence");
  r->set_type_code(models::PRESENCE);
  request.set_ttl_in_seconds(ttl);
  return request;
}

std::string CellJson(const std::string& cell_id) {
  models::CellPresence p;
  p.set_cell_id(cell_id);
  p.set_zone("z1");
  p.set_rep_url("https://" + cell_id + ".cell.service.cf.internal:1801");
  p.mutable_capacity()->set_memory_mb(1024);
  return EncodeCellPresenceJson(p);
}

TEST(LocketWireTest, EncodesLocketsTestVectors) {
  models::LockRequest lock;
  lock.mutable_resource()->set_key("bbs");
  lock.mutable_resource()->set_owner("u1");
  lock.mutable_resource()->set_type("lock");
  lock.mutable_resource()->set_type_code(models::LOCK);
  lock.set_ttl_in_seconds(15);
  EXPECT_EQ(Hex(lock.SerializeAsString()), "0a110a036262731202753122046c6f636b2801100f");

  models::FetchAllRequest fetch_all;
  fetch_all.set_type("presence");
  fetch_all.set_type_code(models::PRESENCE);
  EXPECT_EQ(Hex(fetch_all.SerializeAsString()), "0a0870726573656e63651002");

  models::FetchRequest fetch;
  fetch.set_key("cell-1");
  EXPECT_EQ(Hex(fetch.SerializeAsString()), "0a0663656c6c2d31");

  EXPECT_EQ(models::LockResponse().SerializeAsString(), "");
  EXPECT_EQ(models::ReleaseResponse().SerializeAsString(), "");
  EXPECT_EQ(std::string(models::Locket::service_full_name()), "models.Locket");
}

TEST(LocketWireTest, AcceptsInvalidUtf8AsUpstreamDoes) {
  models::Resource resource;
  resource.set_value("\xff\xfe");
  models::Resource parsed;
  EXPECT_TRUE(parsed.ParseFromString(resource.SerializeAsString()));
  EXPECT_EQ(parsed.value(), "\xff\xfe");
}

class GrpcLocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(server_.Start({}), IsOk());
    ASSERT_GT(server_.port(), 0);
    channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
    stub_ = models::Locket::NewStub(channel_);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(server_.port()); }

  grpc::Status Lock(const models::LockRequest& request) {
    grpc::ClientContext context;
    context.AddMetadata("uuid", "8c0c3a8e-0000-4000-8000-000000000001");
    models::LockResponse response;
    return stub_->Lock(&context, request, &response);
  }
  grpc::Status Release(const std::string& key, const std::string& owner) {
    grpc::ClientContext context;
    models::ReleaseRequest request;
    request.mutable_resource()->set_key(key);
    request.mutable_resource()->set_owner(owner);
    models::ReleaseResponse response;
    return stub_->Release(&context, request, &response);
  }
  grpc::Status Fetch(const std::string& key, models::FetchResponse* response) {
    grpc::ClientContext context;
    models::FetchRequest request;
    request.set_key(key);
    return stub_->Fetch(&context, request, response);
  }
  grpc::Status FetchAll(const models::FetchAllRequest& request,
                        models::FetchAllResponse* response) {
    grpc::ClientContext context;
    return stub_->FetchAll(&context, request, response);
  }
  grpc::Status FetchAllPresences(models::FetchAllResponse* response) {
    models::FetchAllRequest request;
    request.set_type("presence");
    request.set_type_code(models::PRESENCE);
    return FetchAll(request, response);
  }

  // Calls `method` with raw request bytes, as any gRPC client would put them on the wire.
  grpc::Status RawCall(const std::string& method, const std::string& request_bytes,
                       std::string* response_bytes) {
    grpc::GenericStub generic(channel_);
    grpc::CompletionQueue cq;
    grpc::ClientContext context;
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1);
    auto call = generic.PrepareUnaryCall(&context, method, request, &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, this);
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    response_bytes->clear();
    std::vector<grpc::Slice> slices;
    if (status.ok() && response.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        response_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return status;
  }

  FakeClock clock_;
  PresenceRegistry registry_{&clock_, NullLogger()};
  LocketServer server_{&registry_, NullLogger()};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<models::Locket::Stub> stub_;
};

void ExpectStatus(const grpc::Status& status, grpc::StatusCode code, const std::string& message) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  EXPECT_EQ(status.error_message(), message);
}

TEST_F(GrpcLocketTest, ARepsPresenceIsListedUntilItsTtlRunsOut) {
  ASSERT_TRUE(Lock(PresenceLock("cell-1", "rep-guid-1", CellJson("cell-1"))).ok());

  models::FetchAllResponse all;
  ASSERT_TRUE(FetchAllPresences(&all).ok());
  ASSERT_EQ(all.resources_size(), 1);
  EXPECT_EQ(all.resources(0).key(), "cell-1");
  EXPECT_EQ(all.resources(0).owner(), "rep-guid-1");
  EXPECT_EQ(all.resources(0).value(), CellJson("cell-1"));
  EXPECT_EQ(all.resources(0).type(), "presence");
  EXPECT_EQ(all.resources(0).type_code(), models::PRESENCE);

  clock_.Advance(seconds(10));  // the rep refreshes every 5 s
  ASSERT_TRUE(Lock(PresenceLock("cell-1", "rep-guid-1", CellJson("cell-1"))).ok());
  clock_.Advance(seconds(14));
  ASSERT_TRUE(FetchAllPresences(&all).ok());
  EXPECT_EQ(all.resources_size(), 1);

  clock_.Advance(seconds(1));  // 15 s after the last Lock
  all.Clear();
  ASSERT_TRUE(FetchAllPresences(&all).ok());
  EXPECT_EQ(all.resources_size(), 0);
  models::FetchResponse fetched;
  ExpectStatus(Fetch("cell-1", &fetched), grpc::StatusCode::NOT_FOUND, "resource-not-found");
}

TEST_F(GrpcLocketTest, AnswersLockFailuresWithLocketsCodesAndMessages) {
  models::LockRequest request = PresenceLock("cell-1", "rep-a", "{}");
  request.mutable_resource()->set_type_code(models::UNKNOWN);
  request.set_ttl_in_seconds(0);
  ExpectStatus(Lock(request), grpc::StatusCode::NOT_FOUND, "invalid-type");
  request.mutable_resource()->set_type_code(static_cast<models::TypeCode>(9));
  ExpectStatus(Lock(request), grpc::StatusCode::NOT_FOUND, "invalid-type");
  request.mutable_resource()->set_type_code(models::LOCK);
  ExpectStatus(Lock(request), grpc::StatusCode::INVALID_ARGUMENT, "invalid-ttl");
  request.set_ttl_in_seconds(15);
  request.mutable_resource()->clear_owner();
  ExpectStatus(Lock(request), grpc::StatusCode::INVALID_ARGUMENT, "invalid-owner");

  models::LockRequest without_resource;
  without_resource.set_ttl_in_seconds(15);
  ExpectStatus(Lock(without_resource), grpc::StatusCode::INVALID_ARGUMENT, "invalid-resource");

  ASSERT_TRUE(Lock(PresenceLock("cell-1", "rep-a", "{}")).ok());
  ExpectStatus(Lock(PresenceLock("cell-1", "rep-b", "{}")), grpc::StatusCode::ALREADY_EXISTS,
               "lock-collision");
}

TEST_F(GrpcLocketTest, ReleaseAndFetchBehaveAsLocket) {
  EXPECT_TRUE(Release("missing", "anyone").ok());
  models::ReleaseRequest without_resource;
  {
    grpc::ClientContext context;
    models::ReleaseResponse response;
    ExpectStatus(stub_->Release(&context, without_resource, &response),
                 grpc::StatusCode::INVALID_ARGUMENT, "invalid-resource");
  }

  models::LockRequest lock = PresenceLock("bbs", "bbs-1", "");
  lock.mutable_resource()->set_type("ignored");  // the server derives the string from the code
  lock.mutable_resource()->set_type_code(models::LOCK);
  ASSERT_TRUE(Lock(lock).ok());

  models::FetchResponse fetched;
  ASSERT_TRUE(Fetch("bbs", &fetched).ok());
  EXPECT_EQ(fetched.resource().key(), "bbs");
  EXPECT_EQ(fetched.resource().owner(), "bbs-1");
  EXPECT_EQ(fetched.resource().type(), "lock");
  EXPECT_EQ(fetched.resource().type_code(), models::LOCK);

  ExpectStatus(Release("bbs", "bbs-2"), grpc::StatusCode::ALREADY_EXISTS, "lock-collision");
  EXPECT_TRUE(Release("bbs", "bbs-1").ok());
  ExpectStatus(Fetch("bbs", &fetched), grpc::StatusCode::NOT_FOUND, "resource-not-found");
}

TEST_F(GrpcLocketTest, FetchAllFiltersByTypeCodeOnly) {
  ASSERT_TRUE(Lock(PresenceLock("cell-1", "rep-a", "{}")).ok());
  models::LockRequest lock = PresenceLock("bbs", "bbs-1", "");
  lock.mutable_resource()->set_type_code(models::LOCK);
  ASSERT_TRUE(Lock(lock).ok());

  models::FetchAllRequest by_string;
  by_string.set_type("presence");
  models::FetchAllResponse response;
  ExpectStatus(FetchAll(by_string, &response), grpc::StatusCode::NOT_FOUND, "invalid-type");

  models::FetchAllRequest locks;
  locks.set_type_code(models::LOCK);
  ASSERT_TRUE(FetchAll(locks, &response).ok());
  ASSERT_EQ(response.resources_size(), 1);
  EXPECT_EQ(response.resources(0).key(), "bbs");
  EXPECT_EQ(response.resources(0).type(), "lock");
}

TEST_F(GrpcLocketTest, ServesTheTestVectorsOnUpstreamsMethodPaths) {
  std::string response;
  grpc::Status status = RawCall("/models.Locket/Lock",
                                Unhex("0a110a036262731202753122046c6f636b2801100f"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, "");

  ASSERT_TRUE(RawCall("/models.Locket/Fetch", Unhex("0a03626273"), &response).ok());
  models::FetchResponse fetched;
  ASSERT_TRUE(fetched.ParseFromString(response));
  EXPECT_EQ(fetched.resource().owner(), "u1");
  // key, owner, type, type_code in field order; the empty value is omitted.
  EXPECT_EQ(Hex(response), "0a110a036262731202753122046c6f636b2801");

  ASSERT_TRUE(
      RawCall("/models.Locket/FetchAll", Unhex("0a0870726573656e63651002"), &response).ok());
  EXPECT_EQ(response, "");
  EXPECT_EQ(RawCall("/models.Locket/Fetch", Unhex("0a0663656c6c2d31"), &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  models::ReleaseRequest release;
  release.mutable_resource()->set_key("bbs");
  release.mutable_resource()->set_owner("u1");
  ASSERT_TRUE(RawCall("/models.Locket/Release", release.SerializeAsString(), &response).ok());
  EXPECT_EQ(response, "");
  EXPECT_EQ(RawCall("/models.Locket/Watch", "", &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(GrpcLocketTest, StopIsIdempotentAndFreesThePort) {
  int port = server_.port();
  server_.Stop();
  server_.Stop();
  LocketServer again(&registry_, NullLogger());
  LocketServerOptions options;
  options.address = "127.0.0.1:" + std::to_string(port);
  EXPECT_THAT(again.Start(options), IsOk());
  EXPECT_EQ(again.port(), port);
}

TEST_F(GrpcLocketTest, StartFailsOnAPortInUse) {
  LocketServer second(&registry_, NullLogger());
  LocketServerOptions options;
  options.address = address();
  Status status = second.Start(options);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(second.port(), 0);
}

// ---- LocketClient and LocketCellDirectory against our server ----

class GrpcLocketClientTest : public GrpcLocketTest {
 protected:
  void SetUp() override {
    GrpcLocketTest::SetUp();
    LocketClientOptions options;
    options.address = address();
    auto created = LocketClient::Create(options);
    ASSERT_THAT(created, IsOk());
    client_ = std::move(*created);
    ASSERT_THAT(client_->WaitForConnected(seconds(10)), IsOk());
  }

  LocketCallOptions Deadline() {
    LocketCallOptions call;
    call.deadline = seconds(10);
    call.request_uuid = "8c0c3a8e-0000-4000-8000-000000000002";
    return call;
  }

  std::unique_ptr<LocketClient> client_;
};

TEST_F(GrpcLocketClientTest, HoldsAndReleasesALock) {
  LocketResource bbs{"bbs", "bbs-1", "", ResourceType::kLock};
  ASSERT_THAT(client_->Lock(bbs, 15, Deadline()), IsOk());
  LocketResource other{"bbs", "bbs-2", "", ResourceType::kLock};
  EXPECT_THAT(client_->Lock(other, 15, Deadline()),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  EXPECT_THAT(client_->Lock(bbs, 0, Deadline()),
              StatusIs(ErrorCode::kInvalidRequest, "invalid-ttl"));
  Result<LocketResource> fetched = client_->Fetch("bbs", Deadline());
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(*fetched, bbs);
  Result<std::vector<LocketResource>> locks = client_->FetchAll(ResourceType::kLock, Deadline());
  ASSERT_THAT(locks, IsOk());
  EXPECT_EQ(locks->size(), 1u);
  EXPECT_THAT(client_->FetchAll(ResourceType::kUnknown, Deadline()).status(),
              StatusIs(ErrorCode::kResourceNotFound, "invalid-type"));
  EXPECT_THAT(client_->Release("bbs", "bbs-2", Deadline()),
              StatusIs(ErrorCode::kLockCollision, "lock-collision"));
  EXPECT_THAT(client_->Release("bbs", "bbs-1", Deadline()), IsOk());
  EXPECT_THAT(client_->Fetch("bbs", Deadline()).status(),
              StatusIs(ErrorCode::kResourceNotFound, "resource-not-found"));
  EXPECT_THAT(client_->Lock(other, 15, Deadline()), IsOk());
}

TEST_F(GrpcLocketClientTest, TheDirectoryListsAndLooksUpRegisteredCells) {
  LocketCellDirectory directory(client_.get(), seconds(10), NullLogger());
  EXPECT_TRUE(directory.knows_presence());
  ASSERT_TRUE(Lock(PresenceLock("cell-2", "rep-b", CellJson("cell-2"))).ok());
  ASSERT_TRUE(Lock(PresenceLock("cell-1", "rep-a", CellJson("cell-1"))).ok());
  ASSERT_TRUE(Lock(PresenceLock("cell-3", "rep-c", "{not json")).ok());

  Result<std::vector<models::CellPresence>> all = directory.All();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].cell_id(), "cell-1");
  EXPECT_EQ((*all)[0].capacity().memory_mb(), 1024);
  EXPECT_EQ((*all)[1].cell_id(), "cell-2");

  Result<models::CellPresence> found = directory.Lookup("cell-2");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->rep_url(), "https://cell-2.cell.service.cf.internal:1801");
  EXPECT_THAT(
      directory.Lookup("cell-9").status(),
      StatusIs(ErrorCode::kResourceNotFound, CanonicalMessage(ErrorCode::kResourceNotFound)));
  EXPECT_EQ(directory.Lookup("cell-3").status().code(), ErrorCode::kUnknownError);

  clock_.Advance(seconds(15));
  all = directory.All();
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all, IsEmpty());
  EXPECT_EQ(directory.Lookup("cell-2").status().code(), ErrorCode::kResourceNotFound);
}

TEST_F(GrpcLocketClientTest, TheDirectoryReportsAnUnreachableLocketAsUnknownError) {
  server_.Stop();
  LocketCellDirectory directory(client_.get(), seconds(10), NullLogger());
  Status all = directory.All().status();
  EXPECT_EQ(all.code(), ErrorCode::kUnknownError) << all.ToString();
  EXPECT_EQ(directory.Lookup("cell-1").status().code(), ErrorCode::kUnknownError);
}

// A TCP listener on a loopback port that never accepts, so never speaks HTTP/2: calls to it can
// only end by their deadline.
class SilentListener {
 public:
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_, {boost::asio::ip::address_v4::loopback(), 0}};
};

TEST(GrpcLocketDeadlineTest, TheDirectoryGivesUpAtItsDeadline) {
  SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  LocketClientOptions options;
  options.address = "127.0.0.1:" + std::to_string(silent.port());
  auto client = LocketClient::Create(options);
  ASSERT_THAT(client, IsOk());
  LocketCellDirectory directory(client->get(), milliseconds(200), NullLogger());
  Status all = directory.All().status();
  EXPECT_EQ(all.code(), ErrorCode::kUnknownError);
  EXPECT_THAT(all.message(), ::testing::HasSubstr("DeadlineExceeded")) << all.ToString();
  EXPECT_EQ((*client)->WaitForConnected(milliseconds(200)).code(), ErrorCode::kTimeout);
}

// ---- mutual TLS ----

const clients::TestPki& Pki() {
  static const clients::TestPki pki = [] {
    std::string pattern = ::testing::TempDir() + "bbs_cells_pki_XXXXXX";
    char* directory = ::mkdtemp(pattern.data());
    if (directory == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return clients::TestPki{};
    }
    auto created = clients::TestPki::Create(directory);
    if (!created.ok()) {
      ADD_FAILURE() << created.status().ToString();
      return clients::TestPki{};
    }
    return *created;
  }();
  return pki;
}

TEST(GrpcLocketTlsTest, ServesClientsWithACertificateFromTheCa) {
  const clients::TestPki& pki = Pki();
  FakeClock clock;
  PresenceRegistry registry(&clock, NullLogger());
  LocketServer server(&registry, NullLogger());
  LocketServerOptions server_options;
  server_options.tls = LocketTls{pki.ca_file, pki.server_cert_file, pki.server_key_file};
  ASSERT_THAT(server.Start(server_options), IsOk());
  std::string address = "127.0.0.1:" + std::to_string(server.port());

  LocketClientOptions options;
  options.address = address;
  options.tls = LocketTls{pki.ca_file, pki.client_cert_file, pki.client_key_file};
  auto client = LocketClient::Create(options);
  ASSERT_THAT(client, IsOk());
  LocketCallOptions call;
  call.deadline = seconds(10);
  EXPECT_THAT(
      (*client)->Lock({"cell-1", "rep-a", CellJson("cell-1"), ResourceType::kPresence}, 15, call),
      IsOk());
  EXPECT_EQ((*client)->FetchAll(ResourceType::kPresence, call)->size(), 1u);

  LocketClientOptions plaintext;
  plaintext.address = address;
  auto insecure = LocketClient::Create(plaintext);
  ASSERT_THAT(insecure, IsOk());
  EXPECT_FALSE((*insecure)->FetchAll(ResourceType::kPresence, call).ok());

  // TLS but without a client certificate: the server requires one.
  auto no_cert =
      grpc::CreateChannel(address, grpc::SslCredentials(grpc::SslCredentialsOptions{
                                       [&] {
                                         std::ifstream in(pki.ca_file);
                                         return std::string(std::istreambuf_iterator<char>(in), {});
                                       }(),
                                       "", ""}));
  auto stub = models::Locket::NewStub(no_cert);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  models::FetchAllRequest request;
  request.set_type_code(models::PRESENCE);
  models::FetchAllResponse response;
  EXPECT_FALSE(stub->FetchAll(&context, request, &response).ok());
}

TEST(GrpcLocketTlsTest, RejectsUnreadableCertificateFiles) {
  FakeClock clock;
  PresenceRegistry registry(&clock, NullLogger());
  LocketServer server(&registry, NullLogger());
  LocketServerOptions options;
  options.tls = LocketTls{"/nonexistent/ca.crt", "/nonexistent/a.crt", "/nonexistent/a.key"};
  EXPECT_EQ(server.Start(options).code(), ErrorCode::kInvalidRequest);
  LocketClientOptions client_options;
  client_options.address = "127.0.0.1:1";
  client_options.tls = options.tls;
  EXPECT_EQ(LocketClient::Create(client_options).status().code(), ErrorCode::kInvalidRequest);
}

}  // namespace
}  // namespace bbs::cells
