#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbs/base/status.h"
#include "bbs/clients/http_client.h"

// Fake auctioneer, rep and callback receiver for tests (outbound.md §8): real HTTP(S) servers
// on 127.0.0.1 that record every request (method, target, all headers, body, parsed JSON) and
// answer from a script. They run on a small server of their own rather than bbs::http::Server
// because they must see every header and be able to drop a connection without answering.

namespace bbs::clients {

namespace internal {
class PeerServer;
}  // namespace internal

// One request as a fake peer received it.
struct RecordedRequest {
  std::string method;
  std::string target;  // as sent, e.g. "/v1/lrps/pg%2F1/instances/ig/stop"
  std::string path;    // the target without the query, still escaped
  HeaderList headers;  // in the order received
  std::string body;
  nlohmann::json json;  // the parsed body; is_discarded() when the body is not JSON

  // The first value of header `name` (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

// How a fake answers one request.
struct FakeReply {
  enum class Kind {
    kRespond,          // answer with status/body
    kCloseConnection,  // read the request, then close the connection without answering
    kHang,             // answer only once ReleaseHung() or Stop() is called
  };
  Kind kind = Kind::kRespond;
  int status = 200;
  std::string body;
  std::string content_type;  // sent when non-empty
  HeaderList headers;        // extra headers, e.g. Location

  static FakeReply Respond(int status, std::string body = "", std::string content_type = "");
  static FakeReply CloseConnection();
  static FakeReply Hang(int status = 200);
};

struct FakePeerOptions {
  uint16_t port = 0;  // 0 = any free port
  // With cert_file and key_file the peer serves https; with client_ca_file as well it requires
  // a client certificate signed by that CA (mutual TLS).
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

// What the fakes have in common: start/stop, the reply script, the request log. Thread-safe.
class FakePeer {
 public:
  virtual ~FakePeer();
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;

  // Binds 127.0.0.1 (options.port) and starts serving. REQUIRES: called at most once.
  Status Start();
  // Releases hung requests, closes every connection and joins the server threads. Idempotent.
  void Stop();

  // "http://127.0.0.1:<port>" (https when serving TLS). REQUIRES: Start() succeeded.
  std::string url() const;
  uint16_t port() const;

  // The reply used once the script is exhausted.
  void SetDefaultReply(FakeReply reply);
  // Replies for the next requests, in order (requests the peer rejects itself, such as an
  // unknown path, do not consume them).
  void Script(std::vector<FakeReply> replies);
  // Lets every request currently hung answer.
  void ReleaseHung();

  std::vector<RecordedRequest> requests() const;
  size_t request_count() const;
  // Blocks until at least `n` requests have arrived (recorded before they are answered) or
  // `timeout` passed; returns whether they arrived.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  // TCP connections accepted so far.
  int connections_accepted() const;

 protected:
  FakePeer(FakePeerOptions options, FakeReply default_reply);
  // The peer's own answer to a request it rejects (404, 405, 400...), or nullopt to answer from
  // the script. Runs on a server thread; derived classes Stop() in their destructor.
  virtual std::optional<FakeReply> Route(const RecordedRequest& request) = 0;
  // Blocks until `done(requests)` holds or `timeout` passed.
  bool WaitUntil(const std::function<bool(const std::vector<RecordedRequest>&)>& done,
                 std::chrono::milliseconds timeout) const;

 private:
  FakeReply Handle(RecordedRequest request);

  const FakePeerOptions options_;
  std::unique_ptr<internal::PeerServer> server_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<RecordedRequest> requests_;
  std::deque<FakeReply> script_;
  FakeReply default_reply_;
  uint64_t release_generation_ = 0;
  bool stopping_ = false;
};

// The auctioneer (outbound.md §3.6): POST /v1/lrps and POST /v1/tasks. A body that is not a JSON
// array gets 400 {"error":...}, another path 404, another method 405; everything else is
// answered from the script, by default 202 "{}".
class FakeAuctioneer final : public FakePeer {
 public:
  explicit FakeAuctioneer(FakePeerOptions options = {});
  ~FakeAuctioneer() override;

  std::vector<RecordedRequest> lrp_requests() const;   // POST /v1/lrps only
  std::vector<RecordedRequest> task_requests() const;  // POST /v1/tasks only

 protected:
  std::optional<FakeReply> Route(const RecordedRequest& request) override;
};

// One call a FakeRep recognised; guids are unescaped.
struct RepCall {
  enum class Kind { kStop, kCancel, kUpdateV2, kUpdateV1 };
  Kind kind = Kind::kStop;
  std::string process_guid, instance_guid, task_guid;
  RecordedRequest request;
};

// A cell rep (outbound.md §4): POST /v1/lrps/:pg/instances/:ig/stop, POST
// /v1/tasks/:tg/cancel, PUT /v2/lrps/:pg/instances/:ig and PUT /v1/lrps/:pg/instances/:ig.
// An empty path parameter gets 400, an unknown route 404, a disabled update route 404 (an old
// rep); the rest is answered from the script, by default 202 with an empty body.
class FakeRep final : public FakePeer {
 public:
  explicit FakeRep(FakePeerOptions options = {});
  ~FakeRep() override;

  void SetV2UpdateEnabled(bool enabled);
  void SetV1UpdateEnabled(bool enabled);

  std::vector<RepCall> calls() const;
  bool WaitForCalls(size_t n, std::chrono::milliseconds timeout) const;

  // The call a request is, or nullopt for an unknown route.
  static std::optional<RepCall> ParseCall(const RecordedRequest& request);

 protected:
  std::optional<FakeReply> Route(const RecordedRequest& request) override;

 private:
  std::atomic<bool> v2_enabled_{true};
  std::atomic<bool> v1_enabled_{true};
};

// A task completion callback receiver: any method and path, answered from the script, by
// default 200 with an empty body.
class FakeCallbackReceiver final : public FakePeer {
 public:
  explicit FakeCallbackReceiver(FakePeerOptions options = {});
  ~FakeCallbackReceiver() override;

 protected:
  std::optional<FakeReply> Route(const RecordedRequest& request) override;
};

}  // namespace bbs::clients
