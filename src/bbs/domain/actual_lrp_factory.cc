#include "bbs/domain/actual_lrp_factory.h"

namespace bbs::domain {

models::ActualLRP NewUnclaimedActualLrp(const std::string& process_guid, int32_t index,
                                        const std::string& domain, int64_t now,
                                        const std::string& epoch) {
  models::ActualLRP lrp;
  auto* key = lrp.mutable_actual_lrp_key();
  key->set_process_guid(process_guid);
  key->set_index(index);
  key->set_domain(domain);
  lrp.set_state(kUnclaimed);
  lrp.set_since(now);
  lrp.mutable_modification_tag()->set_epoch(epoch);
  lrp.set_presence(models::ActualLRP::ORDINARY);
  lrp.set_routable(false);
  NormalizeActualLrp(&lrp);
  return lrp;
}

void NormalizeActualLrp(models::ActualLRP* lrp) {
  lrp->mutable_actual_lrp_key();
  lrp->mutable_actual_lrp_instance_key();
  lrp->mutable_actual_lrp_net_info();
  lrp->mutable_modification_tag();
  if (!lrp->has_routable()) lrp->set_routable(false);
}

}  // namespace bbs::domain
