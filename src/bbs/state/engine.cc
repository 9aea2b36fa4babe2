#include "bbs/state/engine.h"

namespace bbs::state {
namespace {

// Every how many LRP convergence passes the convergence index evaluates every process again (a
// safety net; at the default 30 s interval: every 10 minutes).
constexpr int kFullConvergenceEvery = 20;

}  // namespace

Engine::Engine(storage::Store* store, const Clock* clock, GuidGenerator* guids,
               domain::EventPublisher* publisher, Logger logger, Options options)
    : store_(store),
      clock_(clock),
      guids_(guids),
      logger_(logger),
      metrics_(options.metrics),
      convergence_index_(&model_, {.full_every_passes = kFullConvergenceEvery}),
      committer_(store, &model_, publisher, logger, options),
      outbound_(logger),
      domains_(Context()),
      desired_lrps_(Context(), store),
      actual_lrps_(Context()),
      tasks_(Context()),
      convergence_(Context(), &domains_, &actual_lrps_, &convergence_index_) {
  committer_.SetConvergenceIndex(&convergence_index_);
}

Engine::~Engine() { Stop(); }

WriteContext Engine::Context() {
  return WriteContext{&model_, &committer_, &locks_, &outbound_, clock_, guids_, logger_, metrics_};
}

Status Engine::Load() {
  storage::Snapshot snapshot;
  // Stores that decode in batches hand each batch to the model as it comes (start-up peak).
  snapshot.on_batch = [this](storage::Snapshot* part) { model_.LoadPart(part); };
  Status s = store_->Load(&snapshot);
  if (!s.ok()) return s;
  model_.Load(std::move(snapshot));
  logger_.Info("loaded", {{"domains", model_.DomainCount()},
                          {"desired_lrps", model_.DesiredLrpCount()},
                          {"actual_lrps", model_.ActualLrpCount()},
                          {"tasks", model_.TaskCount()}});
  return Status::Ok();
}

void Engine::Start() { committer_.Start(); }

void Engine::Stop() { committer_.Stop(); }

void Engine::SetPeers(clients::Auctioneer* auctioneer, clients::Reps* reps,
                      cells::CellDirectory* cells) {
  outbound_.SetPeers(auctioneer, reps, cells);
}

}  // namespace bbs::state
