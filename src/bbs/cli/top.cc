#include "bbs/cli/top.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "bbs/cli/bbs_api.h"

namespace bbs::cli {
namespace {

using Clock = std::chrono::steady_clock;

Result<std::vector<models::CellPresence>> ListCells(HttpClient& bbs) {
  auto r = Call<models::CellsResponse>(bbs, "/v1/cells/list.r1", models::CellsResponse());
  if (!r.ok()) return r.status();
  return std::vector<models::CellPresence>(r->cells().begin(), r->cells().end());
}

// Events from the stream threads to the screen loop; a pipe wakes the loop.
class EventQueue {
 public:
  EventQueue() {
    if (pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~EventQueue() {
    if (fds_[0] >= 0) close(fds_[0]);
    if (fds_[1] >= 0) close(fds_[1]);
  }
  void Push(std::string name, std::unique_ptr<google::protobuf::Message> m) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.emplace_back(std::move(name), std::move(m));
    }
    Wake();
  }
  void Resync(std::string status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      resync_ = true;
      status_ = std::move(status);
    }
    Wake();
  }
  void SetStatus(std::string status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = std::move(status);
    }
    Wake();
  }
  // Moves out everything queued.
  void Take(std::deque<std::pair<std::string, std::unique_ptr<google::protobuf::Message>>>* out,
            bool* resync, std::string* status) {
    char buf[256];
    while (read(fds_[0], buf, sizeof(buf)) == static_cast<ssize_t>(sizeof(buf))) {
    }
    std::lock_guard<std::mutex> lock(mu_);
    out->swap(events_);
    events_.clear();
    *resync = resync_;
    resync_ = false;
    if (!status_.empty()) *status = status_;
  }
  int fd() const { return fds_[0]; }

 private:
  void Wake() {
    char c = 1;
    if (write(fds_[1], &c, 1) < 0) {
    }
  }
  int fds_[2];
  std::mutex mu_;
  std::deque<std::pair<std::string, std::unique_ptr<google::protobuf::Message>>> events_;
  bool resync_ = false;
  std::string status_;
};

// One followed stream on its own thread.
class StreamFollower {
 public:
  StreamFollower(HttpClient& client, std::string path, EventQueue& queue)
      : client_(client), path_(std::move(path)), queue_(queue) {}
  ~StreamFollower() { Stop(); }

  void Start() {
    thread_ = std::thread([this] {
      FollowOptions options;
      options.path = path_;
      options.retries = 1 << 30;
      options.stop = [this] { return stopping_.load(); };
      options.on_open = [this](EventStream* s) {
        std::lock_guard<std::mutex> lock(mu_);
        current_ = s;
        if (s != nullptr) {
          if (opened_) queue_.Resync("reconnected to " + path_ + "; re-listed");
          opened_ = true;
          cv_.notify_all();
        }
      };
      Status s = FollowEvents(client_, options, [this](const SseEvent& e) {
        auto decoded = DecodeEvent(e);
        if (decoded.ok()) queue_.Push(e.name, std::move(*decoded));
        return !stopping_.load();
      });
      if (!stopping_.load()) {
        queue_.SetStatus(path_ + " ended" + (s.ok() ? "" : ": " + s.message()));
      }
    });
  }

  // Waits (bounded) until the stream is open, so nothing committed after the listing is missed.
  bool WaitOpen(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return opened_; });
  }

  void Stop() {
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (current_ != nullptr) current_->Interrupt();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  HttpClient& client_;
  std::string path_;
  EventQueue& queue_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  EventStream* current_ = nullptr;
  bool opened_ = false;
};

class RawTerminal {
 public:
  RawTerminal() {
    ok_ = tcgetattr(STDIN_FILENO, &saved_) == 0;
    if (!ok_) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    Write("\033[?1049h\033[?25l");
  }
  ~RawTerminal() {
    if (!ok_) return;
    Write("\033[?25h\033[?1049l");
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  static void Write(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = write(STDOUT_FILENO, s.data() + off, s.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

 private:
  termios saved_{};
  bool ok_ = false;
};

void Draw(const std::vector<std::string>& lines) {
  std::string frame = "\033[H";
  for (const auto& l : lines) frame += l + "\033[K\r\n";
  frame += "\033[J";
  RawTerminal::Write(frame);
}

}  // namespace

Status LoadView(HttpClient& bbs, SystemView* view) {
  auto desired = Call<models::DesiredLRPsResponse>(bbs, "/v1/desired_lrps/list.r3",
                                                   models::DesiredLRPsRequest());
  if (!desired.ok()) return desired.status();
  auto actual =
      Call<models::ActualLRPsResponse>(bbs, "/v1/actual_lrps/list", models::ActualLRPsRequest());
  if (!actual.ok()) return actual.status();
  auto tasks = Call<models::TasksResponse>(bbs, "/v1/tasks/list.r3", models::TasksRequest());
  if (!tasks.ok()) return tasks.status();
  auto cells = ListCells(bbs);
  if (!cells.ok()) return cells.status();
  view->Reset({desired->desired_lrps().begin(), desired->desired_lrps().end()},
              {actual->actual_lrps().begin(), actual->actual_lrps().end()},
              {tasks->tasks().begin(), tasks->tasks().end()}, *cells);
  return Status::Ok();
}

MetricsRows FetchMetrics(const std::string& url, const TlsOptions& tls,
                         std::chrono::milliseconds timeout, const MetricsRows* previous,
                         double seconds) {
  MetricsRows rows;
  if (url.empty()) {
    rows.error = "no --metricsURL";
    return rows;
  }
  auto endpoint = url::ParseUrl(url);
  if (!endpoint.ok()) {
    rows.error = endpoint.status().message();
    return rows;
  }
  HttpClient client(*endpoint, tls, timeout.count() > 0 ? timeout : std::chrono::seconds(2));
  auto r = client.Request("GET", "", "");
  if (!r.ok()) {
    rows.error = r.status().message();
    return rows;
  }
  if (r->status != 200) {
    rows.error = url + " answered HTTP " + std::to_string(r->status);
    return rows;
  }
  return ParseMetrics(r->body, previous, seconds);
}

Result<std::string> Summary(HttpClient& bbs, const std::string& metrics_url, const TlsOptions& tls,
                            std::chrono::milliseconds timeout) {
  SystemView view;
  Status s = LoadView(bbs, &view);
  if (!s.ok()) return s;
  MetricsRows metrics = FetchMetrics(metrics_url, tls, timeout, nullptr, 0);
  return SummaryJson(view, metrics);
}

Status RunTop(HttpClient& bbs, const TopOptions& options, std::FILE* err) {
  if (isatty(STDIN_FILENO) == 0 || isatty(STDOUT_FILENO) == 0) {
    return Status(kTransportError, "top needs a terminal; use 'bbsctl summary' for JSON");
  }
  // Streams connect with a bounded timeout so that quitting never waits on a dead server.
  HttpClient streams(bbs.base(), bbs.tls(), std::chrono::seconds(5));
  EventQueue queue;
  StreamFollower lrps(streams, "/v1/events/lrp_instances.r1", queue);
  StreamFollower tasks(streams, "/v1/events/tasks.r1", queue);
  lrps.Start();
  tasks.Start();
  if (!lrps.WaitOpen(std::chrono::seconds(10)) || !tasks.WaitOpen(std::chrono::seconds(10))) {
    return Status(kTransportError, "could not open the event streams of " + options.title);
  }
  SystemView view;
  Status s = LoadView(bbs, &view);
  if (!s.ok()) return s;

  RawTerminal terminal;
  ScreenOptions screen;
  screen.title = options.title;
  MetricsRows metrics =
      FetchMetrics(options.metrics_url, options.metrics_tls, std::chrono::seconds(2), nullptr, 0);
  auto last_metrics = Clock::now();
  auto last_cells = Clock::now();
  bool dirty = true;
  static const char* const kSorts[] = {"cell", "instances", "memory", "disk"};
  size_t sort_index = 0;
  std::deque<std::pair<std::string, std::unique_ptr<google::protobuf::Message>>> events;
  for (bool quit = false; !quit;) {
    if (dirty) {
      winsize ws{};
      if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        screen.width = ws.ws_col;
        screen.height = ws.ws_row;
      }
      Draw(RenderScreen(view, metrics, screen));
      dirty = false;
    }
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {queue.fd(), POLLIN, 0}};
    int n = poll(fds, 2, 1000);
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      char keys[64];
      ssize_t got = read(STDIN_FILENO, keys, sizeof(keys));
      for (ssize_t i = 0; i < got; ++i) {
        char k = keys[i];
        dirty = true;
        if (screen.editing_filter) {
          if (k == '\r' || k == '\n') {
            screen.editing_filter = false;
          } else if (k == 27) {
            screen.editing_filter = false;
            screen.filter.clear();
          } else if (k == 127 || k == 8) {
            if (!screen.filter.empty()) screen.filter.pop_back();
          } else if (k >= 32 && k < 127) {
            screen.filter += k;
          }
          continue;
        }
        if (k == 'q' || k == 3 || k == 4) {
          quit = true;
        } else if (k == 's') {
          sort_index = (sort_index + 1) % 4;
          screen.sort = kSorts[sort_index];
        } else if (k == 'r') {
          screen.reverse = !screen.reverse;
        } else if (k == '/') {
          screen.editing_filter = true;
          screen.filter.clear();
        }
      }
    }
    if (n > 0 && (fds[1].revents & POLLIN) != 0) {
      bool resync = false;
      queue.Take(&events, &resync, &screen.status);
      if (resync) {
        Status load = LoadView(bbs, &view);
        if (!load.ok()) screen.status = "re-list failed: " + load.message();
      }
      for (auto& [name, message] : events) view.Apply(name, *message);
      events.clear();
      dirty = true;
    }
    auto now = Clock::now();
    if (now - last_metrics >= std::chrono::seconds(5)) {
      double seconds = std::chrono::duration<double>(now - last_metrics).count();
      metrics = FetchMetrics(options.metrics_url, options.metrics_tls, std::chrono::seconds(2),
                             &metrics, seconds);
      last_metrics = now;
      dirty = true;
    }
    if (now - last_cells >= std::chrono::seconds(10)) {
      auto cells = ListCells(bbs);
      if (cells.ok()) view.SetCells(*cells);
      last_cells = now;
      dirty = true;
    }
  }
  lrps.Stop();
  tasks.Stop();
  (void)err;
  return Status::Ok();
}

}  // namespace bbs::cli
