// Fuzz target: the Locket gRPC service handlers (cells/locket_service.h) over a presence
// registry with a fake clock. Input: a sequence of operations, each one kind byte, one length
// byte and that many bytes of a protobuf request (Lock, Release, Fetch, FetchAll), or a clock
// step and an expiry pass, so that sequences of locks, refreshes and expiries are explored.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <grpcpp/server_context.h>

#include "bbs/base/clock.h"
#include "bbs/base/logger.h"
#include "bbs/cells/locket_service.h"
#include "bbs/cells/presence_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bbs::FakeClock clock;
  bbs::cells::PresenceRegistry registry(&clock, bbs::Logger(bbs::LogSink::Null(), "locket"));
  bbs::cells::LocketService service(&registry, bbs::Logger(bbs::LogSink::Null(), "locket"));
  size_t i = 0;
  while (i + 2 <= size) {
    uint8_t kind = data[i] % 6;
    size_t len = data[i + 1];
    i += 2;
    if (len > size - i) len = size - i;
    const void* bytes = data + i;
    int n = static_cast<int>(len);
    i += len;
    grpc::ServerContext context;
    switch (kind) {
      case 0: {
        models::LockRequest request;
        models::LockResponse response;
        if (request.ParseFromArray(bytes, n)) (void)service.Lock(&context, &request, &response);
        break;
      }
      case 1: {
        models::ReleaseRequest request;
        models::ReleaseResponse response;
        if (request.ParseFromArray(bytes, n)) {
          (void)service.Release(&context, &request, &response);
        }
        break;
      }
      case 2: {
        models::FetchRequest request;
        models::FetchResponse response;
        if (request.ParseFromArray(bytes, n)) (void)service.Fetch(&context, &request, &response);
        break;
      }
      case 3: {
        models::FetchAllRequest request;
        models::FetchAllResponse response;
        if (request.ParseFromArray(bytes, n)) {
          (void)service.FetchAll(&context, &request, &response);
        }
        break;
      }
      case 4:
        clock.Advance(std::chrono::seconds(len));
        break;
      default:
        (void)registry.ExpireNow();
        break;
    }
  }
  return 0;
}
