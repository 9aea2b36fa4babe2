#include "bbs/testing/ha_helpers.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "models/desired_lrp.pb.h"

namespace bbs::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool ConnectionRefused(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(port);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int error = errno;
  close(fd);
  return rc != 0 && error == ECONNREFUSED;
}

bool DesireLrp(http::TestClient& client, const std::string& guid, std::string* why) {
  models::DesireLRPRequest request;
  models::DesiredLRP* lrp = request.mutable_desired_lrp();
  lrp->set_process_guid(guid);
  lrp->set_domain("cf-apps");
  lrp->set_root_fs("preloaded:cflinuxfs4");
  lrp->set_instances(1);
  lrp->set_memory_mb(256);
  lrp->set_disk_mb(1024);
  auto* run = lrp->mutable_action()->mutable_run_action();
  run->set_path("/bin/true");
  run->set_user("vcap");
  (*lrp->mutable_metric_tags())["source_id"].set_static_("app-guid");
  auto r = client.Send("POST", "/v1/desired_lrp/desire.r2", request.SerializeAsString(),
                       {{"Content-Type", "application/x-protobuf"}});
  if (!r.ok()) {
    if (why != nullptr) *why = r.status().ToString();
    return false;
  }
  models::DesiredLRPLifecycleResponse response;
  if (r->status != 200 || !response.ParseFromString(r->body) || response.has_error()) {
    if (why != nullptr) {
      *why = "HTTP " + std::to_string(r->status) + ": " + response.error().message();
    }
    return false;
  }
  return true;
}

std::set<std::string> ListDesiredGuids(int port, std::string* why) {
  http::TestClient client(static_cast<uint16_t>(port));
  models::DesiredLRPsRequest all;
  auto r = client.Send("POST", "/v1/desired_lrps/list.r3", all.SerializeAsString(),
                       {{"Content-Type", "application/x-protobuf"}});
  std::set<std::string> out;
  models::DesiredLRPsResponse response;
  if (!r.ok() || r->status != 200 || !response.ParseFromString(r->body)) {
    if (why != nullptr) *why = r.ok() ? "HTTP " + std::to_string(r->status) : r.status().ToString();
    return out;
  }
  for (const auto& d : response.desired_lrps()) out.insert(d.process_guid());
  return out;
}

AcknowledgedWrites::AcknowledgedWrites(int port, int writers) {
  for (int w = 0; w < writers; ++w) {
    threads_.emplace_back([this, port, w] {
      http::TestClient client(static_cast<uint16_t>(port), std::chrono::seconds(5));
      for (int i = 0; !stop_.load(); ++i) {
        std::string guid = "pg-" + std::to_string(w) + "-" + std::to_string(i);
        std::string why;
        bool ok = DesireLrp(client, guid, &why);
        std::lock_guard lock(mu_);
        if (!ok) {
          if (why.starts_with("HTTP ")) http_refusals_.push_back(guid + ": " + why);
          return;
        }
        acknowledged_.insert(guid);
        cv_.notify_all();
      }
    });
  }
}

bool AcknowledgedWrites::WaitFor(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return acknowledged_.size() >= count; });
}

std::set<std::string> AcknowledgedWrites::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::lock_guard lock(mu_);
  return acknowledged_;
}

std::vector<std::string> AcknowledgedWrites::http_refusals() {
  std::lock_guard lock(mu_);
  return http_refusals_;
}

}  // namespace bbs::testing
