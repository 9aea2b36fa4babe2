#include "bbs/base/guid.h"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

namespace bbs {

struct RandomGuidGenerator::Impl {
  boost::uuids::random_generator gen;
};

RandomGuidGenerator::RandomGuidGenerator() : impl_(std::make_unique<Impl>()) {}
RandomGuidGenerator::~RandomGuidGenerator() = default;

std::string RandomGuidGenerator::NewGuid() {
  std::lock_guard lock(mu_);
  return boost::uuids::to_string(impl_->gen());
}

}  // namespace bbs
