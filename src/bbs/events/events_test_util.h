#pragma once

// Test helpers for the event streams: a recording StreamWriter, a parser for the chunked SSE
// bytes, and event builders. Header-only; for tests in this folder.

#include <openssl/evp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bbs/domain/event.h"
#include "bbs/http/message.h"
#include "models/events.pb.h"

namespace bbs::events::testing {

using domain::Event;
using domain::EventFamily;

// Records what a stream writes. A stalled writer never hands anything to its "socket":
// queued_bytes() then counts every byte written.
class FakeWriter final : public http::StreamWriter {
 public:
  explicit FakeWriter(bool stalled = false) : stalled_(stalled) {}

  void Write(std::string bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      return;
    }
    if (stalled_) {
      queued_ += bytes.size();
    }
    data_ += bytes;
    ++writes_;
    cv_.notify_all();
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  bool closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  size_t queued_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_;
  }

  std::string data() const {
    std::lock_guard<std::mutex> lock(mu_);
    return data_;
  }
  // Waits until pred(data) holds; false after `timeout`.
  bool WaitUntil(const std::function<bool(const std::string&)>& pred,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(data_); });
  }
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_; });
  }

 private:
  const bool stalled_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string data_;
  size_t queued_ = 0;
  bool closed_ = false;
  int writes_ = 0;
};

struct SseEvent {
  std::string id;
  std::string type;
  std::string data;  // base64 as sent
};

struct ParsedStream {
  std::vector<SseEvent> events;
  bool terminated = false;  // saw "0\r\n\r\n"
  bool well_formed = true;  // every byte belonged to a complete chunk of the expected shape
};

// Parses a chunked SSE body as the hub writes it ("<hex>;\r\n<sse text>\r\n" ... "0\r\n\r\n").
// A trailing incomplete chunk is left out.
inline ParsedStream ParseStream(const std::string& bytes) {
  ParsedStream out;
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t semi = bytes.find(";\r\n", at);
    if (semi == std::string::npos) {
      break;
    }
    const size_t size = std::stoul(bytes.substr(at, semi - at), nullptr, 16);
    const size_t start = semi + 3;
    if (size == 0) {
      // Only the "0\r\n\r\n" form is expected; the hub never writes "0;".
      out.well_formed = false;
      break;
    }
    if (start + size + 2 > bytes.size()) {
      break;
    }
    const std::string text = bytes.substr(start, size);
    if (bytes.compare(start + size, 2, "\r\n") != 0) {
      out.well_formed = false;
      break;
    }
    SseEvent event;
    size_t line_start = 0;
    int lines = 0;
    while (line_start < text.size()) {
      const size_t nl = text.find('\n', line_start);
      if (nl == std::string::npos) {
        out.well_formed = false;
        break;
      }
      const std::string line = text.substr(line_start, nl - line_start);
      if (line.rfind("id: ", 0) == 0) {
        event.id = line.substr(4);
      }
      if (line.rfind("event: ", 0) == 0) {
        event.type = line.substr(7);
      }
      if (line.rfind("data: ", 0) == 0) {
        event.data = line.substr(6);
      }
      ++lines;
      line_start = nl + 1;
    }
    if (lines != 4 || text.substr(text.size() - 2) != "\n\n") {
      out.well_formed = false;
    }
    out.events.push_back(std::move(event));
    at = start + size + 2;
    if (bytes.compare(at, 5, "0\r\n\r\n") == 0) {
      out.terminated = true;
      if (at + 5 != bytes.size()) {
        out.well_formed = false;
      }
      break;
    }
  }
  if (at == 0 && bytes.compare(0, 5, "0\r\n\r\n") == 0) {
    out.terminated = true;
    if (bytes.size() != 5) {
      out.well_formed = false;
    }
  }
  return out;
}

inline size_t CountEvents(const std::string& bytes) { return ParseStream(bytes).events.size(); }
inline bool Terminated(const std::string& bytes) { return ParseStream(bytes).terminated; }

inline std::string Unbase64(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) {
    return "<invalid base64>";
  }
  size_t size = static_cast<size_t>(n);
  if (!text.empty() && text.back() == '=') {
    --size;
  }
  if (text.size() > 1 && text[text.size() - 2] == '=') {
    --size;
  }
  out.resize(size);
  return out;
}

// --- event builders ---

inline models::ActualLRP Lrp(const std::string& guid, int index, const std::string& cell,
                             const std::string& state = "RUNNING") {
  models::ActualLRP lrp;
  lrp.mutable_actual_lrp_key()->set_process_guid(guid);
  lrp.mutable_actual_lrp_key()->set_index(index);
  lrp.mutable_actual_lrp_key()->set_domain("cf-apps");
  lrp.mutable_actual_lrp_instance_key()->set_instance_guid(cell.empty() ? "" : "ig-" + guid);
  lrp.mutable_actual_lrp_instance_key()->set_cell_id(cell);
  lrp.mutable_actual_lrp_net_info();
  lrp.mutable_modification_tag();
  lrp.set_state(state);
  lrp.set_routable(true);
  return lrp;
}

inline Event InstanceCreated(const std::string& guid, const std::string& cell) {
  auto payload = std::make_shared<models::ActualLRPInstanceCreatedEvent>();
  *payload->mutable_actual_lrp() = Lrp(guid, 0, cell);
  return Event{
      EventFamily::kActualLrpInstance, "actual_lrp_instance_created", std::move(payload), {cell}};
}

inline Event GroupCreated(const std::string& guid, const std::string& cell) {
  auto payload = std::make_shared<models::ActualLRPCreatedEvent>();
  *payload->mutable_actual_lrp_group()->mutable_instance() = Lrp(guid, 0, cell);
  return Event{EventFamily::kActualLrpGroup, "actual_lrp_created", std::move(payload), {cell}};
}

inline Event GroupChanged(const std::string& guid, const std::string& before_cell,
                          const std::string& after_cell) {
  auto payload = std::make_shared<models::ActualLRPChangedEvent>();
  *payload->mutable_before()->mutable_instance() = Lrp(guid, 0, before_cell);
  *payload->mutable_after()->mutable_instance() = Lrp(guid, 0, after_cell);
  return Event{EventFamily::kActualLrpGroup,
               "actual_lrp_changed",
               std::move(payload),
               {before_cell, after_cell}};
}

inline Event Crashed(EventFamily family, const std::string& guid, const std::string& cell) {
  auto payload = std::make_shared<models::ActualLRPCrashedEvent>();
  payload->mutable_actual_lrp_key()->set_process_guid(guid);
  payload->mutable_actual_lrp_instance_key()->set_cell_id(cell);
  payload->set_crash_count(1);
  return Event{family, "actual_lrp_crashed", std::move(payload), {cell}};
}

inline models::DesiredLRP Desired(const std::string& guid) {
  models::DesiredLRP lrp;
  lrp.set_process_guid(guid);
  lrp.set_domain("cf-apps");
  lrp.set_instances(2);
  lrp.set_start_timeout_ms(61000);
  return lrp;
}

inline Event DesiredCreated(const std::string& guid, size_t padding = 0) {
  auto payload = std::make_shared<models::DesiredLRPCreatedEvent>();
  *payload->mutable_desired_lrp() = Desired(guid);
  if (padding > 0) {
    payload->mutable_desired_lrp()->set_annotation(std::string(padding, 'a'));
  }
  payload->set_trace_id("trace-" + guid);
  return Event{EventFamily::kDesiredLrp, "desired_lrp_created", std::move(payload), {}};
}

inline Event TaskCreated(const std::string& guid) {
  auto payload = std::make_shared<models::TaskCreatedEvent>();
  payload->mutable_task()->set_task_guid(guid);
  auto* layer = payload->mutable_task()->mutable_task_definition()->add_image_layers();
  layer->set_name("layer");
  layer->set_url("https://example.com/layer.tgz");
  layer->set_destination_path("/tmp");
  layer->set_layer_type(models::ImageLayer::EXCLUSIVE);
  layer->set_media_type(models::ImageLayer::TGZ);
  layer->set_digest_algorithm(models::ImageLayer::SHA256);
  layer->set_digest_value("abc");
  return Event{EventFamily::kTask, "task_created", std::move(payload), {}};
}

}  // namespace bbs::events::testing
