#pragma once
// The "tributary.runs" extension over the run store: past runs for the nodes of a recorded run.
#include <memory>
#include <mutex>
#include <string>

#include "run_store.hpp"
#include "tributary/run_history.hpp"

namespace tributary::core {

struct Plan;

// Reads the store through a connection of its own, opened read only on first use (the recorder
// has created the store by then), so reading never writes and never waits on the recorder's
// batches for long (WAL readers do not block the writer).
class StoreHistory final : public RunHistory {
 public:
  StoreHistory(std::string path, std::string current_id);
  ~StoreHistory();

  std::string current() override { return current_; }
  std::vector<PastRun> runs(const std::string& pipeline, std::size_t limit) override;
  std::vector<PastSeries> series(const std::string& id) override;
  void points(const std::string& id, const std::string& node, const std::string& name,
              const std::function<void(const MetricPoint&)>& each) override;

 private:
  RunStore& store();  // with mutex_ held

  std::string path_;
  std::string current_;
  std::mutex mutex_;
  std::unique_ptr<RunStore> store_;
};

// Offers `history` to every node of the plan through Context::extension (nullptr: no store).
void offer_history(Plan& plan, RunHistory* history);

}  // namespace tributary::core
