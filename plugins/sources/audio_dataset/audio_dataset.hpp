#pragma once
// A labelled audio data set: a folder with one sub-folder per class, or a manifest CSV, decoded
// by GStreamer into fixed-length clips with deterministic splits.
//
//   [nodes.clips]
//   plugin = "audio_dataset"
//   path = "data/kws"
//   clip_ms = 1000
//   shuffle = true
//   epochs = 10
#include <atomic>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sampling/split_fractions.hpp"
#include "tributary/node.hpp"

namespace tributary::sources {

class WavDecoder;

class AudioDataset final : public Node {
 public:
  static constexpr const char* kType = "audio_dataset";
  static constexpr OutputPort kOut{
      "out", PayloadKind::example,
      "one labelled example per file: f32 [clip samples, channels], with label, split and attributes path, class, "
      "classes, sample_rate, epoch"};
  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;
  bool produce(Emitter& out) override;
  void stop() override;
  AudioDataset();
  ~AudioDataset() override;

 private:
  struct Item {
    std::string key;   // the path as listed (relative to the folder or as the manifest gives it)
    std::string path;  // the path to open
    std::int64_t label = 0;
    Split split = Split::none;
    bool wav = false;  // named .wav: its header is read by the node
  };

  void list_folder();
  void read_manifest();
  void assign_splits();
  void order_epoch();
  // Marks the end of an epoch in the stream.
  void end_epoch(Emitter& out);
  struct Decoded {
    std::optional<Tensor> clip;
    std::string error;    // why there is no clip
    std::string refused;  // why the node did not read this WAV file itself (decodebin did)
  };
  // Decodes one file into a clip through decodebin; on any thread.
  Decoded decode(const Item& item) const;
  // Decodes through `parser` (decodebin); throws what GStreamer reported.
  Tensor decode_with(const std::string& path, const char* parser) const;
  // Decodes one file on a decoder thread with its own WAV decoder: a WAV file the node reads
  // itself, anything else (and a WAV file it does not read) through decodebin.
  Decoded decode_on(WavDecoder& wav, const Item& item) const;
  // Starts decoding the files at the next positions of the epoch, a few ahead of the one being
  // emitted for each decoder thread.
  void decode_ahead();
  // The clip at the cursor: waits for its decoding, fails or skips (logged, counted) what failed.
  std::optional<Tensor> take_clip(std::size_t index);

  std::string folder_;
  std::string manifest_;
  int rate_ = 16000;
  int channels_ = 1;
  std::int64_t clip_ms_ = 1000;
  std::uint64_t seed_ = 0;
  SplitFractions fractions_;
  bool shuffle_ = false;
  std::int64_t epochs_ = 1;
  bool skip_errors_ = false;
  bool cache_ = false;
  std::vector<std::string> extensions_;
  std::int64_t decoders_ = 2;

  std::vector<Item> items_;
  std::vector<std::string> classes_;
  Value classes_value_;
  Value counts_value_;
  std::vector<std::optional<Tensor>> cached_;
  std::vector<bool> unreadable_;  // files skipped once are not read again
  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
  std::int64_t epoch_ = 0;
  std::uint64_t sequence_ = 0;
  std::int64_t emitted_in_epoch_ = 0;
  std::int64_t skipped_ = 0;
  bool started_ = false;
  std::atomic<bool> cancel_{false};  // decoders give up when set
  // `decoders_` threads, each with a WAV decoder of its own, and the decodings under way for
  // positions cursor_, cursor_ + 1... of the epoch, in order.
  class DecoderThreads;
  std::unique_ptr<DecoderThreads> threads_;
  struct Ahead {
    std::size_t index = 0;
    std::future<Decoded> decoded;
  };
  std::deque<Ahead> ahead_;
  std::size_t ahead_cursor_ = 0;  // the next position to start decoding
};

}  // namespace tributary::sources
