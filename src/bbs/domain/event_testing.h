#pragma once

#include <vector>

#include "bbs/domain/event.h"

namespace bbs::domain::testing {

// Drops every event (tests that do not look at events).
class NullEventPublisher final : public EventPublisher {
 public:
  void Publish(const std::vector<Event>&) override {}
};

}  // namespace bbs::domain::testing
