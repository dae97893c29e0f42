#pragma once
// checkpoint: writes the checkpoints a trainer emits, atomically, keeping the last `keep` and the
// best, with a checkpoints.json manifest beside them.
//
//   [nodes.ckpt]
//   plugin = "checkpoint"
//   dir    = "${RUN_DIR}/checkpoints"   # the default
//   keep   = 3
//
// Each checkpoint goes to a temporary file, is fsync'ed, renamed to step-<step>.pt and the folder
// fsync'ed, so a crash at any point leaves the previous checkpoints intact and loadable. A write
// that fails (a full disk) is logged and counted; the run goes on with the last good checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::sinks {

// One file of the manifest.
struct CheckpointEntry {
  std::string file;  // name inside the directory
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  double time = 0.0;
  bool best = false;
  std::string reason;
  std::vector<std::pair<std::string, double>> metrics;
};

// Writes `bytes` to `path` so that a reader sees either the old file or the whole new one:
// temporary file, fsync, rename, fsync of the folder. Throws std::runtime_error with the path
// and the system's reason; the temporary file is removed on failure.
void write_atomically(const std::string& path, const void* bytes, std::size_t size);

class CheckpointSink final : public Node {
 public:
  static constexpr const char* kType = "checkpoint";
  static constexpr InputPort kIn{"in", PayloadKind::blob,
                                 "checkpoints as bytes (u8 tensor 0) with attributes step, "
                                 "epoch, best, reason and metric/<name>"};
  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;

  const std::vector<CheckpointEntry>& entries() const noexcept { return entries_; }

 private:
  void write_manifest();
  void prune();

  std::string dir_;
  std::int64_t keep_ = 3;
  std::vector<CheckpointEntry> entries_;  // oldest first
  std::uint64_t failures_ = 0;
  std::uint64_t written_ = 0;  // checkpoints written by this run
  std::uint64_t written_bytes_ = 0;
};

}  // namespace tributary::sinks
