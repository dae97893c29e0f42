#pragma once
// cache: remembers the deterministic part of a data-set pipeline per item and replays it, so
// epochs after the first decode nothing and compute no features again.
//
//   [nodes.clips]                # the source gives one epoch...
//   plugin = "audio_dataset"
//   epochs = 1
//
//   [nodes.cache]                # ...and the cache makes it 30
//   plugin  = "cache"
//   epochs  = 30
//   shuffle = true
//
// The first epoch passes through while each packet is stored under its `key` attribute (the
// file's `path` by default). When the input ends, the cache emits epochs 2..N itself, from memory
// or from its spill file: the train packets in a new order each epoch (seeded), val and test ones
// and every marker in their places, with the epoch's own markers and new sequence numbers, so
// nodes after it (augment) draw new randomness each epoch. Tensors beyond `max_bytes` are spilled
// to a file in `dir` and read back byte for byte.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::features {

class Cache final : public Node {
 public:
  static constexpr const char* kType = "cache";
  static constexpr InputPort kIn{"in", PayloadKind::audio | PayloadKind::example | PayloadKind::features,
                                 "one epoch of a data set: a packet per item, with its markers"};
  static constexpr OutputPort kOut{"out", PayloadKind::audio | PayloadKind::example | PayloadKind::features,
                                   "the first epoch as it came, then `epochs` - 1 replays of it"};

  static void declare(NodeSpec& spec);

  Cache();
  ~Cache() override;
  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void on_marker(const InputPort& port, const Marker& marker, Emitter& out) override;
  void flush(Emitter& out) override;
  void stop() override;

 private:
  // A spilled tensor: where its bytes are in the spill file.
  struct SpilledTensor {
    DType dtype = DType::f32;
    Shape shape;
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
  };
  // One stored item: the packet as it came (tensors in memory), or its metadata with the tensors
  // in the spill file.
  struct Entry {
    PacketPtr packet;
    std::vector<SpilledTensor> spilled;  // empty when in memory
  };
  // The first epoch's stream: a packet (index into entries_) or a marker, in order.
  struct Step {
    std::int64_t entry = -1;  // -1: a marker
    Marker marker;
  };

  std::string key_of(const Packet& packet) const;
  void store(const PacketPtr& packet);
  std::vector<SpilledTensor> spill(const Packet& packet);
  PacketPtr load(const Entry& entry) const;
  void replay(std::int64_t epoch, Emitter& out);
  void close_spill();

  std::int64_t epochs_ = 1;
  bool shuffle_ = false;
  std::uint64_t seed_ = 0;
  std::string key_;
  std::uint64_t max_bytes_ = 0;
  std::string dir_;

  std::vector<Entry> entries_;
  std::vector<Step> steps_;
  std::unordered_set<std::string> keys_;  // to refuse an item seen twice
  std::uint64_t memory_bytes_ = 0;
  std::uint64_t spilled_bytes_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::int64_t first_epoch_ = 0;  // the epoch number the source gave its one epoch
  bool epoch_ended_ = false;      // the first epoch's epoch_end marker has come
  std::string spill_path_;
  std::FILE* spill_ = nullptr;
};

}  // namespace tributary::features
