#include "bbs/cli/commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "bbs/base/go_json.h"
#include "bbs/cells/cell_presence_json.h"
#include "bbs/cells/locket_client.h"
#include "bbs/cli/bbs_api.h"
#include "bbs/cli/model_json.h"
#include "bbs/cli/top.h"
#include "bbs/cli/transport.h"

namespace bbs::cli {

using Type = FlagSpec::Type;

// Everything a verb needs: its parsed flags and arguments, where to write, and the BBS client
// (for BBS verbs) or the Locket settings (for Locket verbs).
struct Context {
  const Verb* verb = nullptr;
  ParsedFlags flags;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  std::unique_ptr<HttpClient> bbs;
  std::string bbs_url;
  TlsOptions bbs_tls;
  std::chrono::milliseconds timeout{0};
  cells::LocketClientOptions locket;

  // A flag's value: the flag, else its environment variable, else "".
  std::string Value(const std::string& name) const;
  void Line(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), out);
    std::fputc('\n', out);
    if (std::ferror(out) != 0 && errno == EPIPE) {
      // The reader went away (`bbsctl lrp-events | head -1`): die of SIGPIPE as a Go program
      // does; sockets ignore it (main sets SIG_IGN), stdout must not.
      std::signal(SIGPIPE, SIG_DFL);
      std::raise(SIGPIPE);
    }
  }
};

namespace {

int Fail(Context& ctx, int code, const std::string& message) {
  // Clears a "fetching ..." line left on a terminal.
  if (isatty(fileno(ctx.err)) != 0) std::fprintf(ctx.err, "\r\033[K");
  std::fprintf(ctx.err, "Error: %s\n", message.c_str());
  if (code == kExitValidation || code == kExitUsage) {
    std::fprintf(ctx.err, "Run 'bbsctl help %s' for usage.\n",
                 ctx.verb != nullptr ? ctx.verb->name.c_str() : "");
  }
  return code;
}

// The BBS error the way cfdot prints a models.Error.
int FailStatus(Context& ctx, const Status& s) {
  if (s.code() == kTransportError) return Fail(ctx, kExitOther, s.message());
  return Fail(ctx, kExitBbsError,
              "BBS error\nType " + std::to_string(static_cast<int>(s.code())) + ": " +
                  ErrorCodeName(s.code()) + "\nMessage: " + s.message());
}

// Locket errors are gRPC errors in Go; cfdot prints their text with exit code 4.
int FailLocket(Context& ctx, const Status& s) {
  static constexpr std::pair<ErrorCode, const char*> kGrpcCodes[] = {
      {ErrorCode::kLockCollision, "AlreadyExists"},
      {ErrorCode::kInvalidRequest, "InvalidArgument"},
      {ErrorCode::kResourceNotFound, "NotFound"},
      {ErrorCode::kTimeout, "DeadlineExceeded"},
  };
  for (const auto& [error, grpc_code] : kGrpcCodes) {
    if (s.code() == error) {
      return Fail(ctx, kExitBbsError,
                  std::string("rpc error: code = ") + grpc_code + " desc = " + s.message());
    }
  }
  return Fail(ctx, kExitBbsError, s.message());
}

// Shows "<noun>: i/N" on stderr while a long list is written, when stderr is a terminal.
class Progress {
 public:
  Progress(Context& ctx, std::string noun, size_t total)
      : ctx_(ctx),
        noun_(std::move(noun)),
        total_(total),
        active_(total >= 1000 && isatty(fileno(ctx.err)) != 0) {}
  ~Progress() {
    if (active_) std::fprintf(ctx_.err, "\r\033[K");
  }
  void Tick(size_t i) {
    if (active_ && (i % 1000 == 0 || i + 1 == total_)) {
      std::fprintf(ctx_.err, "\r%s: %zu/%zu", noun_.c_str(), i + 1, total_);
      std::fflush(ctx_.err);
    }
  }

 private:
  Context& ctx_;
  std::string noun_;
  size_t total_;
  bool active_;
};

void Waiting(Context& ctx, const std::string& what) {
  if (isatty(fileno(ctx.err)) != 0) {
    std::fprintf(ctx.err, "\rfetching %s...", what.c_str());
    std::fflush(ctx.err);
  }
}

template <typename Repeated>
void PrintAll(Context& ctx, const std::string& noun, const Repeated& items) {
  std::fprintf(ctx.err, "%s", isatty(fileno(ctx.err)) != 0 ? "\r\033[K" : "");
  Progress progress(ctx, noun, static_cast<size_t>(items.size()));
  std::string line;
  size_t i = 0;
  for (const auto& item : items) {
    line.clear();
    AppendModelJson(line, item);
    ctx.Line(line);
    progress.Tick(i++);
  }
}

std::string LowerFirst(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// Checks a file the way cfdot's validateReadableFile does.
bool CheckFile(Context& ctx, const std::string& path, const std::string& label, int* code) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f != nullptr) {
    std::fclose(f);
    return true;
  }
  // Go's os.Open error text: "open <path>: no such file or directory".
  std::string go_why = "open " + path + ": " + LowerFirst(std::strerror(errno));
  *code = Fail(ctx, kExitValidation,
               label + " file '" + path + "' doesn't exist or is not readable: " + go_why);
  return false;
}

bool GetBool(Context& ctx, const std::string& flag, const std::string& env, bool* value,
             int* code) {
  *value = false;
  if (ctx.flags.Changed(flag)) {
    ParseGoBool(ctx.flags.Get(flag), value);
    return true;
  }
  const char* e = std::getenv(env.c_str());
  if (e == nullptr || *e == '\0') return true;
  if (!ParseGoBool(e, value)) {
    *code = Fail(ctx, kExitValidation,
                 "The value '" + std::string(e) + "' is not a valid value for " + env +
                     ". Please specify one of the following valid boolean values: 1, t, T, "
                     "TRUE, true, True, 0, f, F, FALSE, false, False");
    return false;
  }
  return true;
}

std::string FirstOf(Context& ctx, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    std::string v = ctx.Value(n);
    if (!v.empty()) return v;
  }
  return "";
}

// cfdot's ClientPrehook: the BBS URL and TLS files from flags or the environment.
bool SetUpBbs(Context& ctx, int* code) {
  ctx.bbs_url = ctx.Value("bbsURL");
  bool skip = false;
  if (ctx.flags.Changed("bbsSkipCertVerify") || std::getenv("BBS_SKIP_CERT_VERIFY") != nullptr) {
    if (!GetBool(ctx, "bbsSkipCertVerify", "BBS_SKIP_CERT_VERIFY", &skip, code)) return false;
  }
  if (!skip && !GetBool(ctx, "skipCertVerify", "SKIP_CERT_VERIFY", &skip, code)) return false;
  ctx.bbs_tls.skip_verify = skip;
  ctx.bbs_tls.ca_file = FirstOf(ctx, {"caCertFile", "bbsCACertFile"});
  ctx.bbs_tls.cert_file = FirstOf(ctx, {"clientCertFile", "bbsCertFile"});
  ctx.bbs_tls.key_file = FirstOf(ctx, {"clientKeyFile", "bbsKeyFile"});
  if (ctx.bbs_url.empty()) {
    *code = Fail(ctx, kExitValidation,
                 "BBS URL not set. Please specify one with the '--bbsURL' flag or the 'BBS_URL' "
                 "environment variable.");
    return false;
  }
  auto endpoint = url::ParseUrl(ctx.bbs_url);
  if (!endpoint.ok()) {
    *code = Fail(ctx, kExitValidation,
                 "The URL '" + ctx.bbs_url +
                     "' does not have an 'http' or 'https' scheme. Please specify one with the "
                     "'--bbsURL' flag or the 'BBS_URL' environment variable.");
    return false;
  }
  if (endpoint->scheme == "https") {
    if (!skip) {
      if (ctx.bbs_tls.ca_file.empty()) {
        *code = Fail(ctx, kExitValidation,
                     "--caCertFile must be specified if using HTTPS and --skipCertVerify is not "
                     "set");
        return false;
      }
      if (!CheckFile(ctx, ctx.bbs_tls.ca_file, "CA cert", code)) return false;
    }
    if (ctx.bbs_tls.key_file.empty() || ctx.bbs_tls.cert_file.empty()) {
      *code = Fail(ctx, kExitValidation,
                   "--clientCertFile and --clientKeyFile must both be specified for TLS "
                   "connections.");
      return false;
    }
    if (!CheckFile(ctx, ctx.bbs_tls.key_file, "key", code)) return false;
    if (!CheckFile(ctx, ctx.bbs_tls.cert_file, "cert", code)) return false;
  }
  ctx.bbs = std::make_unique<HttpClient>(*endpoint, ctx.bbs_tls, ctx.timeout);
  return true;
}

// cfdot's LocketPrehook, plus bbsctl's --locketPlaintext for a Locket without TLS (bbs's own
// on loopback).
bool SetUpLocket(Context& ctx, int* code) {
  ctx.locket.address = ctx.Value("locketAPILocation");
  bool plaintext = false;
  if (!GetBool(ctx, "locketPlaintext", "LOCKET_PLAINTEXT", &plaintext, code)) return false;
  bool skip = false;
  if (!GetBool(ctx, "locketSkipCertVerify", "LOCKET_SKIP_CERT_VERIFY", &skip, code)) return false;
  cells::LocketTls tls{ctx.Value("locketCACertFile"), ctx.Value("locketCertFile"),
                       ctx.Value("locketKeyFile")};
  if (ctx.locket.address.empty()) {
    *code = Fail(ctx, kExitValidation,
                 "Locket API Location not set. Please specify one with the '--locketAPILocation' "
                 "flag or the 'LOCKET_API_LOCATION' environment variable.");
    return false;
  }
  if (plaintext) return true;
  if (skip) {
    *code = Fail(ctx, kExitValidation,
                 "--locketSkipCertVerify is not supported by bbsctl: give --locketCACertFile");
    return false;
  }
  if (tls.ca_file.empty()) {
    *code = Fail(ctx, kExitValidation,
                 "--locketCACertFile must be specified if --locketSkipCertVerify is not set");
    return false;
  }
  if (!CheckFile(ctx, tls.ca_file, "CA cert", code)) return false;
  if (tls.key_file.empty() || tls.cert_file.empty()) {
    *code = Fail(ctx, kExitValidation,
                 "--locketCertFile and --locketKeyFile must both be specified for TLS "
                 "connections.");
    return false;
  }
  if (!CheckFile(ctx, tls.key_file, "key", code)) return false;
  if (!CheckFile(ctx, tls.cert_file, "cert", code)) return false;
  ctx.locket.tls = tls;
  return true;
}

Result<std::unique_ptr<cells::LocketClient>> Locket(Context& ctx) {
  return cells::LocketClient::Create(ctx.locket);
}

cells::LocketCallOptions LocketCall(Context& ctx) {
  cells::LocketCallOptions call;
  call.deadline = ctx.timeout.count() > 0 ? ctx.timeout : std::chrono::milliseconds(10000);
  call.wait_for_ready = true;
  return call;
}

// ---- argument checks (cfdot's messages): kExitOk, or the exit code of the failure printed ----

int NoArgs(Context& ctx) {
  if (!ctx.flags.args.empty()) return Fail(ctx, kExitValidation, "Too many arguments specified");
  return kExitOk;
}

int ExactArgs(Context& ctx, size_t n) {
  if (ctx.flags.args.size() < n) return Fail(ctx, kExitValidation, "Missing arguments");
  if (ctx.flags.args.size() > n) return Fail(ctx, kExitValidation, "Too many arguments specified");
  return kExitOk;
}

// `n` arguments, the first a guid that must not be empty.
int GuidAndArgs(Context& ctx, size_t n) {
  if (int code = ExactArgs(ctx, n)) return code;
  if (ctx.flags.args[0].empty()) {
    return Fail(ctx, kExitValidation, "Process guid should be non empty string");
  }
  return kExitOk;
}

// An instance index: a non-negative decimal integer.
bool ParseIndex(const std::string& text, int32_t* index) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < 0) return false;
  *index = static_cast<int32_t>(value);
  return true;
}

// SPEC or @FILE, a JSON model parsed into `m`.
int ReadSpec(Context& ctx, const std::string& arg, google::protobuf::Message* m) {
  std::string spec = arg;
  if (!arg.empty() && arg[0] == '@') {
    std::ifstream in(arg.substr(1), std::ios::binary);
    if (!in) {
      return Fail(ctx, kExitValidation,
                  "open " + arg.substr(1) + ": " + LowerFirst(std::strerror(errno)));
    }
    std::ostringstream s;
    s << in.rdbuf();
    spec = s.str();
  }
  Status s = ParseModelJson(spec, m);
  if (!s.ok()) return Fail(ctx, kExitValidation, "Invalid JSON: " + s.message());
  return kExitOk;
}

// ---- calls ----

// Calls the BBS at `path`: prints a failure and returns its exit code, or hands the response to
// `print` and returns kExitOk.
template <typename Response, typename Request, typename Print>
int CallAndPrint(Context& ctx, const std::string& path, const Request& req, Print print) {
  auto r = Call<Response>(*ctx.bbs, path, req);
  if (!r.ok()) return FailStatus(ctx, r.status());
  print(*r);
  return kExitOk;
}

// A call whose response holds nothing to print.
template <typename Response, typename Request>
int CallOnly(Context& ctx, const std::string& path, const Request& req) {
  return CallAndPrint<Response>(ctx, path, req, [](const Response&) {});
}

// A list: "fetching <noun>..." while it waits, then `items(response)` one JSON object a line.
template <typename Response, typename Request, typename Items>
int PrintList(Context& ctx, const std::string& noun, const std::string& path, const Request& req,
              Items items) {
  Waiting(ctx, noun);
  return CallAndPrint<Response>(ctx, path, req,
                                [&](const Response& r) { PrintAll(ctx, noun, items(r)); });
}

// A list verb whose request is filtered by --domain, and by --cell-id where it has one.
template <typename Request, typename Response, typename Items>
int FilteredList(Context& ctx, const std::string& noun, const std::string& path, Items items) {
  if (int code = NoArgs(ctx)) return code;
  Request req;
  req.set_domain(ctx.flags.Get("domain"));
  if constexpr (requires { req.set_cell_id(""); }) req.set_cell_id(ctx.flags.Get("cell-id"));
  return PrintList<Response>(ctx, noun, path, req, items);
}

// ---- verbs ----

int Domains(Context& ctx) {
  if (int code = NoArgs(ctx)) return code;
  return CallAndPrint<models::DomainsResponse>(ctx, "/v1/domains/list", models::DomainsResponse(),
                                               [&](const models::DomainsResponse& r) {
                                                 for (const auto& d : r.domains()) {
                                                   std::string line;
                                                   AppendGoJsonString(line, d);
                                                   ctx.Line(line);
                                                 }
                                               });
}

int SetDomain(Context& ctx) {
  std::string ttl = ctx.flags.Get("ttl");
  if (ttl.empty()) ttl = "0";
  char* end = nullptr;
  long long v = std::strtoll(ttl.c_str(), &end, 10);
  if (end == nullptr || *end != '\0') return Fail(ctx, kExitValidation, "ttl is non-numeric");
  if (v < 0) return Fail(ctx, kExitValidation, "ttl is negative");
  if (ctx.flags.args.empty() || ctx.flags.args[0].empty()) {
    return Fail(ctx, kExitValidation, "No domain given");
  }
  if (int code = ExactArgs(ctx, 1)) return code;
  models::UpsertDomainRequest req;
  req.set_domain(ctx.flags.args[0]);
  req.set_ttl(static_cast<uint32_t>(v));
  return CallOnly<models::UpsertDomainResponse>(ctx, "/v1/domains/upsert", req);
}

int DesiredLrps(Context& ctx) {
  return FilteredList<models::DesiredLRPsRequest, models::DesiredLRPsResponse>(
      ctx, "desired LRPs", "/v1/desired_lrps/list.r3",
      [](const auto& r) -> const auto& { return r.desired_lrps(); });
}

Result<models::DesiredLRPResponse> GetDesiredLrp(Context& ctx, const std::string& process_guid) {
  models::DesiredLRPByProcessGuidRequest get;
  get.set_process_guid(process_guid);
  return Call<models::DesiredLRPResponse>(*ctx.bbs, "/v1/desired_lrps/get_by_process_guid.r3", get);
}

int DesiredLrp(Context& ctx) {
  if (int code = GuidAndArgs(ctx, 1)) return code;
  auto r = GetDesiredLrp(ctx, ctx.flags.args[0]);
  if (!r.ok()) return FailStatus(ctx, r.status());
  ctx.Line(ModelJson(r->desired_lrp()));
  return kExitOk;
}

int DeleteDesiredLrp(Context& ctx) {
  if (int code = GuidAndArgs(ctx, 1)) return code;
  models::RemoveDesiredLRPRequest req;
  req.set_process_guid(ctx.flags.args[0]);
  return CallOnly<models::DesiredLRPLifecycleResponse>(ctx, "/v1/desired_lrp/remove", req);
}

int SchedulingInfos(Context& ctx) {
  return FilteredList<models::DesiredLRPsRequest, models::DesiredLRPSchedulingInfosResponse>(
      ctx, "scheduling infos", "/v1/desired_lrp_scheduling_infos/list",
      [](const auto& r) -> const auto& { return r.desired_lrp_scheduling_infos(); });
}

int CreateDesiredLrp(Context& ctx) {
  if (ctx.flags.args.size() != 1) return Fail(ctx, kExitValidation, "missing spec argument");
  models::DesireLRPRequest req;
  if (int code = ReadSpec(ctx, ctx.flags.args[0], req.mutable_desired_lrp())) return code;
  return CallOnly<models::DesiredLRPLifecycleResponse>(ctx, "/v1/desired_lrp/desire.r2", req);
}

int UpdateDesiredLrp(Context& ctx) {
  if (int code = GuidAndArgs(ctx, 2)) return code;
  models::UpdateDesiredLRPRequest req;
  req.set_process_guid(ctx.flags.args[0]);
  if (int code = ReadSpec(ctx, ctx.flags.args[1], req.mutable_update())) return code;
  return CallOnly<models::DesiredLRPLifecycleResponse>(ctx, "/v1/desired_lrp/update", req);
}

int ActualLrps(Context& ctx) {
  if (int code = NoArgs(ctx)) return code;
  models::ActualLRPsRequest req;
  req.set_domain(ctx.flags.Get("domain"));
  req.set_cell_id(ctx.flags.Get("cell-id"));
  req.set_process_guid(ctx.flags.Get("process-guid"));
  if (ctx.flags.Changed("index")) {
    req.set_index(static_cast<int32_t>(std::strtol(ctx.flags.Get("index").c_str(), nullptr, 0)));
  }
  return PrintList<models::ActualLRPsResponse>(
      ctx, "actual LRPs", "/v1/actual_lrps/list", req,
      [](const auto& r) -> const auto& { return r.actual_lrps(); });
}

const auto& GroupsOf(const models::ActualLRPGroupsResponse& r) { return r.actual_lrp_groups(); }

int ActualLrpGroups(Context& ctx) {
  return FilteredList<models::ActualLRPGroupsRequest, models::ActualLRPGroupsResponse>(
      ctx, "actual LRP groups", "/v1/actual_lrp_groups/list", GroupsOf);
}

int ActualLrpGroupsForGuid(Context& ctx) {
  if (int code = GuidAndArgs(ctx, 1)) return code;
  if (ctx.flags.Changed("index")) {
    models::ActualLRPGroupByProcessGuidAndIndexRequest req;
    req.set_process_guid(ctx.flags.args[0]);
    int32_t index = 0;
    if (!ParseIndex(ctx.flags.Get("index"), &index)) {
      return Fail(ctx, kExitValidation, "Index must be a non-negative integer");
    }
    req.set_index(index);
    return CallAndPrint<models::ActualLRPGroupResponse>(
        ctx, "/v1/actual_lrp_groups/get_by_process_guid_and_index", req,
        [&](const models::ActualLRPGroupResponse& r) {
          ctx.Line(ModelJson(r.actual_lrp_group()));
        });
  }
  models::ActualLRPGroupsByProcessGuidRequest req;
  req.set_process_guid(ctx.flags.args[0]);
  return CallAndPrint<models::ActualLRPGroupsResponse>(
      ctx, "/v1/actual_lrp_groups/list_by_process_guid", req,
      [&](const models::ActualLRPGroupsResponse& r) {
        PrintAll(ctx, "actual LRP groups", GroupsOf(r));
      });
}

int RetireActualLrp(Context& ctx) {
  if (int code = GuidAndArgs(ctx, 2)) return code;
  int32_t index = 0;
  if (!ParseIndex(ctx.flags.args[1], &index)) {
    return Fail(ctx, kExitValidation, "Index must be a non-negative integer");
  }
  // As cfdot: the domain comes from the desired LRP.
  auto desired = GetDesiredLrp(ctx, ctx.flags.args[0]);
  if (!desired.ok()) return FailStatus(ctx, desired.status());
  models::RetireActualLRPRequest req;
  req.mutable_actual_lrp_key()->set_process_guid(ctx.flags.args[0]);
  req.mutable_actual_lrp_key()->set_index(index);
  req.mutable_actual_lrp_key()->set_domain(desired->desired_lrp().domain());
  return CallOnly<models::ActualLRPLifecycleResponse>(ctx, "/v1/actual_lrps/retire", req);
}

int Tasks(Context& ctx) {
  return FilteredList<models::TasksRequest, models::TasksResponse>(
      ctx, "tasks", "/v1/tasks/list.r3", [](const auto& r) -> const auto& { return r.tasks(); });
}

int TaskVerb(Context& ctx) {
  if (int code = ExactArgs(ctx, 1)) return code;
  models::TaskByGuidRequest req;
  req.set_task_guid(ctx.flags.args[0]);
  return CallAndPrint<models::TaskResponse>(
      ctx, "/v1/tasks/get_by_task_guid.r3", req,
      [&](const models::TaskResponse& r) { ctx.Line(ModelJson(r.task())); });
}

int CreateTask(Context& ctx) {
  if (ctx.flags.args.size() != 1) return Fail(ctx, kExitValidation, "missing spec argument");
  models::Task task;
  if (int code = ReadSpec(ctx, ctx.flags.args[0], &task)) return code;
  models::DesireTaskRequest req;
  req.set_task_guid(task.task_guid());
  req.set_domain(task.domain());
  *req.mutable_task_definition() = task.task_definition();
  return CallOnly<models::TaskLifecycleResponse>(ctx, "/v1/tasks/desire.r2", req);
}

int TaskGuidVerb(Context& ctx, const std::vector<std::string>& paths) {
  if (int code = GuidAndArgs(ctx, 1)) return code;
  models::TaskGuidRequest req;
  req.set_task_guid(ctx.flags.args[0]);
  for (const auto& path : paths) {
    if (int code = CallOnly<models::TaskLifecycleResponse>(ctx, path, req)) return code;
  }
  return kExitOk;
}

// The registered cells, those `keep` keeps, one JSON object a line; `missing` when none was kept.
template <typename Keep>
int PrintCells(Context& ctx, Keep keep, const std::string& missing) {
  auto r = Call<models::CellsResponse>(*ctx.bbs, "/v1/cells/list.r1", models::CellsResponse());
  if (!r.ok()) return FailStatus(ctx, r.status());
  bool printed = false;
  for (const auto& c : r->cells()) {
    if (!keep(c)) continue;
    ctx.Line(cells::EncodeCellPresenceJson(c));
    printed = true;
  }
  if (!printed && !missing.empty()) {
    return FailStatus(ctx, Status(ErrorCode::kResourceNotFound, missing));
  }
  return kExitOk;
}

int CellsVerb(Context& ctx) {
  if (int code = NoArgs(ctx)) return code;
  return PrintCells(
      ctx, [](const models::CellPresence&) { return true; }, "");
}

int CellVerb(Context& ctx) {
  if (int code = ExactArgs(ctx, 1)) return code;
  const std::string& id = ctx.flags.args[0];
  return PrintCells(
      ctx, [&](const models::CellPresence& c) { return c.cell_id() == id; }, "cell not found");
}

// {"type":"<event name>","data":<event>} per line, for as long as the stream lasts.
int EventsVerb(Context& ctx, bool tasks) {
  if (int code = NoArgs(ctx)) return code;
  bool exclude_groups = tasks || ctx.flags.Changed("exclude-actual-lrp-groups");
  if (!exclude_groups) {
    std::fprintf(ctx.err,
                 "Event types \"actual_lrp_created\", \"actual_lrp_changed\" and "
                 "\"actual_lrp_removed\" are deprecated. Use \"--exclude-actual-lrp-groups\" "
                 "flag to exclude them.\n");
  }
  models::EventsByCellId filter;
  filter.set_cell_id(ctx.flags.Get("cell-id"));
  std::mutex mu;
  auto print = [&](const SseEvent& e) {
    auto decoded = DecodeEvent(e);
    if (!decoded.ok()) return true;  // an unrecognised type is skipped
    std::string line = "{\"type\":";
    AppendGoJsonString(line, e.name);
    line += ",\"data\":";
    AppendModelJson(line, **decoded);
    line += "}";
    std::lock_guard<std::mutex> lock(mu);
    ctx.Line(line);
    std::fflush(ctx.out);
    return true;
  };
  FollowOptions main;
  main.path = tasks ? "/v1/events/tasks.r1" : "/v1/events/lrp_instances.r1";
  main.body = tasks ? "" : filter.SerializeAsString();
  Status group_status;
  std::thread group_thread;
  if (!exclude_groups) {
    group_thread = std::thread([&] {
      FollowOptions group;
      group.method = "GET";
      group.path = "/v1/events.r1";
      group.body = filter.SerializeAsString();
      group_status = FollowEvents(*ctx.bbs, group, [&](const SseEvent& e) {
        if (e.name != "actual_lrp_created" && e.name != "actual_lrp_changed" &&
            e.name != "actual_lrp_removed") {
          return true;
        }
        return print(e);
      });
    });
  }
  Status s = FollowEvents(*ctx.bbs, main, print);
  if (group_thread.joinable()) group_thread.join();
  if (!s.ok()) return FailStatus(ctx, s);
  if (!group_status.ok()) return FailStatus(ctx, group_status);
  return kExitOk;
}

std::string ResourceJson(const cells::LocketResource& r) {
  // Go's encoding of locket models.Resource: every field `omitempty`, type_code a number.
  std::string out = "{";
  bool first = true;
  auto str = [&](const char* key, const std::string& v) {
    if (v.empty()) return;
    if (!first) out += ',';
    first = false;
    out += std::string("\"") + key + "\":";
    AppendGoJsonString(out, v);
  };
  str("key", r.key);
  str("owner", r.owner);
  str("value", r.value);
  str("type", cells::ResourceTypeName(r.type));
  if (r.type != cells::ResourceType::kUnknown) {
    if (!first) out += ',';
    out += "\"type_code\":" + std::to_string(static_cast<int>(r.type));
  }
  out += "}";
  return out;
}

// Runs `call` with a client of the Locket server; prints a failure as cfdot does.
template <typename LocketCallFn>
int WithLocket(Context& ctx, LocketCallFn call) {
  auto client = Locket(ctx);
  if (!client.ok()) return Fail(ctx, kExitBbsError, client.status().message());
  Status s = call(**client, LocketCall(ctx));
  if (!s.ok()) return FailLocket(ctx, s);
  return kExitOk;
}

// --key and --owner, neither empty.
int KeyAndOwner(Context& ctx, std::string* key, std::string* owner) {
  *key = ctx.flags.Get("key");
  *owner = ctx.flags.Get("owner");
  if (key->empty()) return Fail(ctx, kExitValidation, "key cannot be empty");
  if (owner->empty()) return Fail(ctx, kExitValidation, "owner cannot be empty");
  return kExitOk;
}

int FetchAllVerb(Context& ctx, cells::ResourceType type) {
  if (int code = NoArgs(ctx)) return code;
  return WithLocket(ctx, [&](cells::LocketClient& client, const cells::LocketCallOptions& call) {
    auto r = client.FetchAll(type, call);
    if (!r.ok()) return r.status();
    for (const auto& resource : *r) ctx.Line(ResourceJson(resource));
    return Status::Ok();
  });
}

int ClaimVerb(Context& ctx, cells::ResourceType type) {
  if (int code = NoArgs(ctx)) return code;
  cells::LocketResource resource;
  resource.value = ctx.flags.Get("value");
  resource.type = type;
  long long ttl = std::strtoll(ctx.flags.Get("ttl").c_str(), nullptr, 0);
  if (int code = KeyAndOwner(ctx, &resource.key, &resource.owner)) return code;
  if (ttl <= 0) return Fail(ctx, kExitValidation, "ttl should be an integer greater than zero");
  return WithLocket(ctx, [&](cells::LocketClient& client, const cells::LocketCallOptions& call) {
    return client.Lock(resource, ttl, call);
  });
}

int ReleaseVerb(Context& ctx) {
  if (int code = NoArgs(ctx)) return code;
  std::string key;
  std::string owner;
  if (int code = KeyAndOwner(ctx, &key, &owner)) return code;
  return WithLocket(ctx, [&](cells::LocketClient& client, const cells::LocketCallOptions& call) {
    return client.Release(key, owner, call);
  });
}

int TopVerb(Context& ctx) {
  if (int code = NoArgs(ctx)) return code;
  TopOptions options;
  options.title = ctx.bbs_url;
  options.metrics_url = ctx.Value("metricsURL");
  options.metrics_tls = ctx.bbs_tls;
  Status s = RunTop(*ctx.bbs, options, ctx.err);
  if (!s.ok()) return FailStatus(ctx, s);
  return kExitOk;
}

int SummaryVerb(Context& ctx) {
  if (int code = NoArgs(ctx)) return code;
  auto json = Summary(*ctx.bbs, ctx.Value("metricsURL"), ctx.bbs_tls, ctx.timeout);
  if (!json.ok()) return FailStatus(ctx, json.status());
  ctx.Line(*json);
  return kExitOk;
}

// ---- flag sets ----

// cfdot's flags for a server: where it is, the TLS files to reach it with (each flag name with
// its environment variable: CA, client certificate, client key), then `more`.
std::vector<FlagSpec> ServerFlags(FlagSpec address,
                                  const std::array<std::pair<const char*, const char*>, 3>& tls,
                                  const std::vector<FlagSpec>& more) {
  static constexpr const char* kTlsHelp[] = {
      "path the Certificate Authority (CA) file to use when verifying TLS keypairs",
      "path to the TLS client certificate to use during mutual-auth TLS",
      "path to the TLS client private key file to use during mutual-auth TLS",
  };
  std::vector<FlagSpec> flags = {std::move(address)};
  for (size_t i = 0; i < tls.size(); ++i) {
    flags.push_back({tls[i].first, 0, Type::kString, kTlsHelp[i], tls[i].second});
  }
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

const std::vector<FlagSpec>& BbsFlags() {
  static const std::vector<FlagSpec> flags = ServerFlags(
      {"bbsURL", 0, Type::kString, "URL of BBS server to target", "BBS_URL"},
      {{{"caCertFile", "CA_CERT_FILE"},
        {"clientCertFile", "CLIENT_CERT_FILE"},
        {"clientKeyFile", "CLIENT_KEY_FILE"}}},
      {
          {"skipCertVerify", 0, Type::kBool,
           "when set to true, skips all SSL/TLS certificate verification", "SKIP_CERT_VERIFY"},
          {"bbsCACertFile", 0, Type::kString, "older cfdot name of --caCertFile",
           "BBS_CA_CERT_FILE"},
          {"bbsCertFile", 0, Type::kString, "older cfdot name of --clientCertFile",
           "BBS_CERT_FILE"},
          {"bbsKeyFile", 0, Type::kString, "older cfdot name of --clientKeyFile", "BBS_KEY_FILE"},
          {"bbsSkipCertVerify", 0, Type::kBool, "older cfdot name of --skipCertVerify",
           "BBS_SKIP_CERT_VERIFY"},
          {"timeout", 0, Type::kInt, "request timeout in seconds (0: none)", "CFDOT_TIMEOUT"},
      });
  return flags;
}

const std::vector<FlagSpec>& LocketFlags() {
  static const std::vector<FlagSpec> flags = ServerFlags(
      {"locketAPILocation", 0, Type::kString, "Hostname:Port of Locket server to target",
       "LOCKET_API_LOCATION"},
      {{{"locketCACertFile", "LOCKET_CA_CERT_FILE"},
        {"locketCertFile", "LOCKET_CERT_FILE"},
        {"locketKeyFile", "LOCKET_KEY_FILE"}}},
      {
          {"locketSkipCertVerify", 0, Type::kBool,
           "when set to true, skips all SSL/TLS certificate verification (not supported by "
           "bbsctl)",
           "LOCKET_SKIP_CERT_VERIFY"},
          {"locketPlaintext", 0, Type::kBool,
           "bbsctl only: connect without TLS (bbs's own Locket on loopback)", "LOCKET_PLAINTEXT"},
          {"timeout", 0, Type::kInt, "request timeout in seconds (0: 10 s)", "CFDOT_TIMEOUT"},
      });
  return flags;
}

FlagSpec Domain(const std::string& what) {
  return {"domain", 'd', Type::kString, "retrieve only " + what + " for the given domain", ""};
}
FlagSpec CellId(const std::string& what) {
  return {"cell-id", 'c', Type::kString, "retrieve only " + what + " for the given cell id", ""};
}
FlagSpec MetricsUrl() {
  return {"metricsURL", 0, Type::kString,
          "URL of the BBS metrics endpoint (Prometheus text), e.g. http://127.0.0.1:17017/metrics",
          "BBS_METRICS_URL"};
}

std::vector<Verb> MakeVerbs() {
  using T = Verb::Target;
  std::vector<Verb> v;
  v.push_back({"domains",
               "",
               "List domains",
               "List the fresh domains, one JSON string a line.",
               T::kBbs,
               {},
               {"bbsctl domains"},
               Domains});
  v.push_back({"set-domain",
               "DOMAIN",
               "Set domain",
               "Mark DOMAIN fresh for --ttl seconds (0, the default, means forever).",
               T::kBbs,
               {{"ttl", 't', Type::kString, "ttl of domain", ""}},
               {"bbsctl set-domain cf-apps --ttl 120"},
               SetDomain});
  v.push_back({"desired-lrps",
               "",
               "List desired LRPs",
               "List desired LRPs, one JSON object a line.",
               T::kBbs,
               {Domain("desired lrps")},
               {"bbsctl desired-lrps -d cf-apps | jq .process_guid"},
               DesiredLrps});
  v.push_back({"desired-lrp",
               "PROCESS_GUID",
               "Show the specified desired LRP",
               "Show the desired LRP with the given process guid.",
               T::kBbs,
               {},
               {"bbsctl desired-lrp my-guid | jq .instances"},
               DesiredLrp});
  v.push_back({"desired-lrp-scheduling-infos",
               "",
               "List desired LRP scheduling infos",
               "List the scheduling part of every desired LRP, one JSON object a line.",
               T::kBbs,
               {Domain("desired lrp scheduling infos")},
               {"bbsctl desired-lrp-scheduling-infos"},
               SchedulingInfos});
  v.push_back({"create-desired-lrp",
               "SPEC|@FILE",
               "Create a desired LRP",
               "Create a desired LRP from the given spec: a JSON desired LRP, e.g. "
               "'{\"process_guid\":\"some-guid\"}', or @/path/to/spec/file.",
               T::kBbs,
               {},
               {"bbsctl create-desired-lrp @lrp.json"},
               CreateDesiredLrp});
  v.push_back({"update-desired-lrp",
               "PROCESS_GUID SPEC|@FILE",
               "Update a desired LRP",
               "Update the desired LRP with the given process guid from a JSON update: "
               "{\"instances\":N,\"routes\":{...},\"annotation\":\"...\",\"metric_tags\":{...}}.",
               T::kBbs,
               {},
               {"bbsctl update-desired-lrp my-guid '{\"instances\":3}'"},
               UpdateDesiredLrp});
  v.push_back({"delete-desired-lrp",
               "PROCESS_GUID",
               "Delete a desired LRP",
               "Delete the desired LRP with the given process guid.",
               T::kBbs,
               {},
               {"bbsctl delete-desired-lrp my-guid"},
               DeleteDesiredLrp});
  v.push_back({"actual-lrps",
               "",
               "List actual LRPs",
               "List actual LRPs, one JSON object a line.",
               T::kBbs,
               {Domain("actual lrps"),
                CellId("actual lrps"),
                {"process-guid", 'p', Type::kString,
                 "retrieve only actual lrps for the given process guid", ""},
                {"index", 'i', Type::kInt, "retrieve only actual lrps for the given index", ""}},
               {"bbsctl actual-lrps -c cell-1 | jq 'select(.state==\"CRASHED\")'"},
               ActualLrps});
  v.push_back({"actual-lrp-groups",
               "",
               "List actual LRP groups",
               "List actual LRP groups (deprecated API), one JSON object a line.",
               T::kBbs,
               {Domain("actual lrp groups"), CellId("actual lrp groups")},
               {"bbsctl actual-lrp-groups"},
               ActualLrpGroups});
  v.push_back({"actual-lrp-groups-for-guid",
               "PROCESS_GUID",
               "List actual LRP groups for a process guid",
               "List actual LRP groups for a process guid, or the one of --index.",
               T::kBbs,
               {{"index", 'i', Type::kString, "retrieve actual lrp for the given index", ""}},
               {"bbsctl actual-lrp-groups-for-guid my-guid -i 0"},
               ActualLrpGroupsForGuid});
  v.push_back({"retire-actual-lrp",
               "PROCESS_GUID INDEX",
               "Retire actual LRP by index and process guid",
               "Retire the actual LRP with the given process guid and index.",
               T::kBbs,
               {},
               {"bbsctl retire-actual-lrp my-guid 2"},
               RetireActualLrp});
  v.push_back({"tasks",
               "",
               "List tasks in BBS",
               "List tasks, one JSON object a line.",
               T::kBbs,
               {Domain("tasks"), CellId("tasks")},
               {"bbsctl tasks -d cf-tasks"},
               Tasks});
  v.push_back({"task",
               "TASK_GUID",
               "Display task",
               "Show the task with the given guid.",
               T::kBbs,
               {},
               {"bbsctl task my-task | jq .state"},
               TaskVerb});
  v.push_back(
      {"create-task",
       "SPEC|@FILE",
       "Create a Task",
       "Create a task from the given spec: a JSON task, e.g. "
       "'{\"task_guid\":\"some-guid\",\"domain\":\"d\",\"rootfs\":\"...\",\"action\":{...}}', "
       "or @/path/to/spec/file.",
       T::kBbs,
       {},
       {"bbsctl create-task @task.json"},
       CreateTask});
  v.push_back({"cancel-task",
               "TASK_GUID",
               "Cancel task",
               "Cancel the task with the given guid.",
               T::kBbs,
               {},
               {"bbsctl cancel-task my-task"},
               [](Context& c) { return TaskGuidVerb(c, {"/v1/tasks/cancel"}); }});
  v.push_back({"delete-task",
               "TASK_GUID",
               "Delete a Task",
               "Delete a completed task: mark it resolving, then delete it.",
               T::kBbs,
               {},
               {"bbsctl delete-task my-task"},
               [](Context& c) {
                 return TaskGuidVerb(c, {"/v1/tasks/resolving", "/v1/tasks/delete"});
               }});
  v.push_back({"cells",
               "",
               "List registered cell presences",
               "List the registered cell presences, one JSON object a line.",
               T::kBbs,
               {},
               {"bbsctl cells | jq .cell_id"},
               CellsVerb});
  v.push_back({"cell",
               "CELL_ID",
               "Show the specified cell presence",
               "Show the presence of the given cell.",
               T::kBbs,
               {},
               {"bbsctl cell cell-1"},
               CellVerb});
  v.push_back(
      {"lrp-events",
       "",
       "Subscribe to BBS LRP events",
       "Follow the LRP event stream: one {\"type\",\"data\"} JSON object a line. A broken "
       "connection is resumed (Last-Event-ID sent) after a second; the command ends when "
       "the server ends the stream.",
       T::kBbs,
       {CellId("events"),
        {"exclude-actual-lrp-groups", 'x', Type::kBool, "exclude actual lrp group events", ""}},
       {"bbsctl lrp-events -x | jq -c 'select(.type==\"actual_lrp_crashed\")'"},
       [](Context& c) { return EventsVerb(c, false); }});
  v.push_back({"task-events",
               "",
               "Subscribe to BBS Task events",
               "Follow the task event stream: one {\"type\",\"data\"} JSON object a line.",
               T::kBbs,
               {},
               {"bbsctl task-events"},
               [](Context& c) { return EventsVerb(c, true); }});
  v.push_back({"locks",
               "",
               "List Locket locks",
               "List the Locket locks.",
               T::kLocket,
               {},
               {"bbsctl locks --locketAPILocation locket:8891 ..."},
               [](Context& c) { return FetchAllVerb(c, cells::ResourceType::kLock); }});
  v.push_back({"presences",
               "",
               "List Locket presences",
               "List the Locket presences.",
               T::kLocket,
               {},
               {"bbsctl presences"},
               [](Context& c) { return FetchAllVerb(c, cells::ResourceType::kPresence); }});
  std::vector<FlagSpec> claim = {
      {"key", 'k', Type::kString, "the key of the resource being claimed", ""},
      {"owner", 'o', Type::kString, "the owner", ""},
      {"value", 'v', Type::kString, "the value associated with the key", ""},
      {"ttl", 't', Type::kInt, "the TTL in seconds", ""}};
  v.push_back({"claim-lock",
               "",
               "Claim Locket lock",
               "Claim a Locket lock with the given key, owner, and optional value.",
               T::kLocket,
               claim,
               {"bbsctl claim-lock -k my-lock -o me -t 30"},
               [](Context& c) { return ClaimVerb(c, cells::ResourceType::kLock); }});
  v.push_back({"release-lock",
               "",
               "Release Locket lock",
               "Release the Locket lock with the given key and owner.",
               T::kLocket,
               {{"key", 'k', Type::kString, "the key of the lock being released", ""},
                {"owner", 'o', Type::kString, "the lock owner", ""}},
               {"bbsctl release-lock -k my-lock -o me"},
               ReleaseVerb});
  v.push_back({"claim-presence",
               "",
               "Claim Locket presence",
               "Claim a Locket presence with the given key, owner, and optional value.",
               T::kLocket,
               claim,
               {"bbsctl claim-presence -k cell-1 -o rep -t 30 -v '{...}'"},
               [](Context& c) { return ClaimVerb(c, cells::ResourceType::kPresence); }});
  v.push_back({"top",
               "",
               "Live view of the system",
               "A terminal view kept current from the LRP-instance and task event streams (not by "
               "polling): cells with their instance counts and free capacity, LRPs by state, "
               "crashing LRPs, tasks by state, and convergence and request figures from "
               "--metricsURL (shown as unavailable when it cannot be fetched). Cells have no "
               "event stream and are re-listed every 10 seconds.\n\nKeys: s cycles the sort "
               "(cell, instances, memory, disk), r reverses it, / edits the filter (Enter keeps, "
               "Esc clears), q quits.",
               T::kBbs,
               {MetricsUrl()},
               {"bbsctl top --metricsURL http://127.0.0.1:17017/metrics"},
               TopVerb});
  v.push_back({"summary",
               "",
               "Print what top shows, once, as JSON",
               "Print one JSON object: cells with their instance counts and capacity, LRPs by "
               "state, crashing LRPs, tasks by state, and the metrics rows.",
               T::kBbs,
               {MetricsUrl()},
               {"bbsctl summary | jq .actual_lrps"},
               SummaryVerb});
  return v;
}

std::string TypeName(const FlagSpec& f) {
  switch (f.type) {
    case Type::kBool:
      return "";
    case Type::kInt:
      return " int";
    case Type::kString:
      return " string";
  }
  return "";
}

std::string FlagUsage(const FlagSpec& f) {
  std::string s = f.shorthand != 0 ? std::string("-") + f.shorthand + ", " : "    ";
  return s + "--" + f.name + TypeName(f);
}

void PrintVerbList(std::FILE* out) {
  std::fprintf(out,
               "bbsctl: the operator's command line for a Diego BBS (bbs or the Go BBS) and its "
               "Locket.\n\nUsage:\n  bbsctl VERB [flags] [arguments]\n\nVerbs:\n");
  for (const auto& v : Verbs())
    std::fprintf(out, "  %-30s %s\n", v.name.c_str(), v.summary.c_str());
  std::fprintf(out, "  %-30s %s\n  %-30s %s\n\nRun 'bbsctl help VERB' for a verb's manual.\n",
               "help", "Show a verb's manual", "completion", "Print the bash completion script");
}

void PrintManual(const Verb& v, std::FILE* out) {
  std::fprintf(out, "NAME\n    bbsctl %s - %s\n\n", v.name.c_str(), v.summary.c_str());
  std::fprintf(out, "SYNOPSIS\n    bbsctl %s [flags]%s%s\n\n", v.name.c_str(),
               v.args.empty() ? "" : " ", v.args.c_str());
  std::fprintf(out, "DESCRIPTION\n    %s\n\n", v.description.c_str());
  std::fprintf(out, "OPTIONS\n");
  for (const auto& f : AllFlags(v)) {
    std::fprintf(out, "    %s\n        %s%s\n", FlagUsage(f).c_str(), f.help.c_str(),
                 f.env.empty() ? "" : (" [environment variable: " + f.env + "]").c_str());
  }
  std::fprintf(out, "    -h, --help\n        show this manual\n\n");
  std::fprintf(out,
               "OUTPUT\n    JSON as cfdot prints it (Go's encoding of the BBS models, upstream's "
               "field names), one object a line, for jq. Errors go to stderr.\n\n");
  std::fprintf(out,
               "EXIT STATUS\n    0 success; 3 invalid arguments or configuration; 4 an error "
               "returned by the %s; 5 any other failure (server unreachable, TLS); 255 an "
               "unknown flag.\n\n",
               v.target == Verb::Target::kLocket ? "Locket server" : "BBS");
  if (!v.examples.empty()) {
    std::fprintf(out, "EXAMPLES\n");
    for (const auto& e : v.examples) std::fprintf(out, "    %s\n", e.c_str());
  }
}

const Verb* FindVerb(const std::string& name) {
  for (const auto& v : Verbs()) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

}  // namespace

std::string Context::Value(const std::string& name) const {
  if (flags.Changed(name)) return flags.Get(name);
  for (const auto& f : AllFlags(*verb)) {
    if (f.name == name && !f.env.empty()) {
      const char* e = std::getenv(f.env.c_str());
      return e == nullptr ? "" : e;
    }
  }
  return "";
}

const std::vector<Verb>& Verbs() {
  static const std::vector<Verb> verbs = MakeVerbs();
  return verbs;
}

std::vector<FlagSpec> AllFlags(const Verb& verb) {
  std::vector<FlagSpec> all = verb.flags;
  const auto& extra = verb.target == Verb::Target::kLocket ? LocketFlags() : BbsFlags();
  if (verb.target != Verb::Target::kNone) all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

std::string BashCompletion() {
  std::string s =
      "# bash completion for bbsctl (generated by `bbsctl completion bash`).\n"
      "# Install: source this file, or copy it to /etc/bash_completion.d/bbsctl.\n"
      "_bbsctl() {\n"
      "  local cur verb flags\n"
      "  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
      "  verb=\"${COMP_WORDS[1]}\"\n"
      "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
      "    COMPREPLY=($(compgen -W \"";
  for (const auto& v : Verbs()) s += v.name + " ";
  s += "help completion\" -- \"$cur\"))\n    return\n  fi\n  case \"$verb\" in\n";
  for (const auto& v : Verbs()) {
    s += "    " + v.name + ") flags=\"";
    for (const auto& f : AllFlags(v)) {
      s += "--" + f.name + " ";
      if (f.shorthand != 0) s += std::string("-") + f.shorthand + " ";
    }
    s += "--help\" ;;\n";
  }
  s += "    help) COMPREPLY=($(compgen -W \"";
  for (const auto& v : Verbs()) s += v.name + " ";
  s += "\" -- \"$cur\")); return ;;\n"
       "    completion) COMPREPLY=($(compgen -W \"bash\" -- \"$cur\")); return ;;\n"
       "    *) return ;;\n"
       "  esac\n"
       "  case \"$cur\" in\n"
       "    @*) COMPREPLY=($(compgen -f -P @ -- \"${cur#@}\")) ;;\n"
       "    -*) COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\")) ;;\n"
       "    *) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
       "  esac\n"
       "}\n"
       "complete -F _bbsctl bbsctl\n";
  return s;
}

int RunCli(const std::vector<std::string>& argv, std::FILE* out, std::FILE* err) {
  Context ctx;
  ctx.out = out;
  ctx.err = err;
  if (argv.size() < 2 || argv[1] == "-h" || argv[1] == "--help") {
    PrintVerbList(out);
    return kExitOk;
  }
  const std::string& name = argv[1];
  if (name == "help") {
    if (argv.size() < 3) {
      PrintVerbList(out);
      return kExitOk;
    }
    const Verb* v = FindVerb(argv[2]);
    if (v == nullptr) {
      std::fprintf(err, "Error: unknown verb \"%s\" for \"bbsctl\"\n", argv[2].c_str());
      return kExitValidation;
    }
    PrintManual(*v, out);
    return kExitOk;
  }
  if (name == "completion") {
    if (argv.size() != 3 || argv[2] != "bash") {
      std::fprintf(err, "Error: usage: bbsctl completion bash\n");
      return kExitValidation;
    }
    std::string script = BashCompletion();
    std::fwrite(script.data(), 1, script.size(), out);
    return kExitOk;
  }
  const Verb* verb = FindVerb(name);
  if (verb == nullptr) {
    std::fprintf(err,
                 "Error: unknown command \"%s\" for \"bbsctl\"\nRun 'bbsctl help' for usage.\n",
                 name.c_str());
    return kExitUsage;
  }
  ctx.verb = verb;
  FlagError flag_error;
  std::vector<std::string> words(argv.begin() + 2, argv.end());
  if (!ParseFlags(AllFlags(*verb), words, &ctx.flags, &flag_error)) {
    return Fail(ctx, flag_error.invalid_argument ? kExitValidation : kExitUsage,
                flag_error.message);
  }
  if (ctx.flags.help) {
    PrintManual(*verb, out);
    return kExitOk;
  }
  std::string timeout = ctx.Value("timeout");
  if (!timeout.empty()) {
    char* end = nullptr;
    long long t = std::strtoll(timeout.c_str(), &end, 10);
    if (*end != '\0' || t < 0) return Fail(ctx, kExitValidation, "timeout is not a valid number");
    ctx.timeout = std::chrono::seconds(t);
  }
  int code = 0;
  if (verb->target == Verb::Target::kBbs && !SetUpBbs(ctx, &code)) return code;
  if (verb->target == Verb::Target::kLocket && !SetUpLocket(ctx, &code)) return code;
  int result = verb->run(ctx);
  std::fflush(out);
  return result;
}

}  // namespace bbs::cli
