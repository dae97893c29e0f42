#pragma once
// AudioFeatureNode: what stft, mel and mfcc share. It reads audio (tensor 0, [samples] or
// [samples, channels]; f32, f64 or i16), cuts it into frames and hands each frame to the node,
// in one of two ways:
//  - an `example` packet is a whole clip: its frames (edges padded as torch.stft pads them) leave
//    as one packet, the input with tensor 0 replaced by [frames, features] ([channels, frames,
//    features] for more than one channel);
//  - `audio` packets are chunks of a stream (one per `stream` name): frames are cut across chunk
//    boundaries, so the stream gives the frames the whole signal would; each chunk that completes
//    frames leaves as one `features` packet, the rest at end of stream.
// Label, split and attributes are carried over; outputs add hop_length, first_frame and
// frame_rate attributes, and timestamp_ns is that of the first frame.
//
// A clip shares nothing with other clips, so the nodes declare themselves ordered for whole
// clips (NodeSpec::concurrency_for): fed only `example` packets, clips are computed at the same
// time, each with a FrameScratch of its own, and leave in stream order. A stream stays serial.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dsp/frame_cutter.hpp"
#include "dsp/spectrum.hpp"
#include "tributary/node.hpp"

namespace tributary::features {

// Frames of one packet or stream step: [channels][frames][width], row-major.
struct FrameBlock {
  std::size_t channels = 0;
  std::size_t frames = 0;
  std::size_t width = 0;
  std::vector<float> values;
  float* row(std::size_t channel, std::size_t frame) { return values.data() + (channel * frames + frame) * width; }
};

// What computing one frame writes besides its output: the spectrum's FFT and room for the frame,
// a copy of its samples and its spectrum. Frames computed at the same time each have their own.
struct FrameScratch {
  explicit FrameScratch(const SpectrumOptions& options)
      : spectrum(options),
        frame(spectrum.frame_length(), 0.0f),
        samples(spectrum.frame_length(), 0.0f),
        bins(spectrum.bins(), 0.0f) {}
  Spectrum spectrum;
  std::vector<float> frame;    // frame_length samples, as cut (compute may overwrite them)
  std::vector<float> samples;  // for a node that reads the samples after the spectrum
  std::vector<float> bins;     // bins() values
};

// Per-stream state a node may keep between blocks (running peak for top_db, held frames).
struct BlockState {
  double peak = -1e300;
  std::vector<std::vector<float>> held;  // per channel: frames kept back, row-major
  std::size_t held_frames = 0;
  std::uint64_t frames_in = 0;   // frames seen before this block
  std::uint64_t held_first = 0;  // stream index of the first held frame
  std::uint64_t next_out = 0;    // stream index of the next frame to leave
};

class AudioFeatureNode : public Node {
 public:
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;

 protected:
  explicit AudioFeatureNode(const OutputPort& out) : out_(&out) {}

  // Frame layout for a sample rate: called before the first frame at that rate. Throws
  // ParamError when the parameters do not fit the rate.
  struct Layout {
    std::size_t frame_length = 0;
    std::size_t hop = 1;
    std::size_t pad = 0;
    PadMode pad_mode = PadMode::reflect;
    std::size_t width = 0;  // values per frame from compute()
    SpectrumOptions spectrum;
  };
  virtual Layout prepare(double sample_rate) = 0;
  // The layout of a node that cuts the frames `spectrum` reads, `width` values each.
  static Layout layout_of(const Spectrum& spectrum, std::size_t width);
  // One frame (frame_length samples in scratch.frame, may be overwritten) to `width` values.
  // Runs at the same time for frames of different clips, each with its own scratch.
  virtual void compute(FrameScratch& scratch, float* out) const = 0;
  // Turns the computed frames of a block into output frames, in place: a clip is one block
  // (`end` true); a stream is one block per chunk and one at its end. May change the width or
  // keep frames back in `state` for later blocks. Runs at the same time for different clips.
  virtual void finish_block(FrameBlock& block, BlockState& state, bool end) const {
    (void)block;
    (void)state;
    (void)end;
  }
  // When the sample rate is known from the file, configure() checks the parameters with it.
  void prepare_if_known(double sample_rate);

 private:
  struct Stream {
    std::vector<FrameCutter> cutters;  // one per channel
    double sample_rate = 0.0;
    std::size_t channels = 0;
    bool multichannel = false;
    std::int64_t start_ns = 0;
    std::uint64_t sequence = 0;
    std::uint64_t frames_out = 0;
    BlockState state;
    PacketPtr last;          // attributes for what leaves at end of stream
    std::uint64_t gaps = 0;  // chunks that started later than the samples before them end
  };

  // A scratch from the pool (or a new one) for one clip or stream step, and back.
  std::unique_ptr<FrameScratch> take_scratch();
  void give_back(std::unique_ptr<FrameScratch> scratch);

  // The layout for this rate, prepared by the first packet; later ones must match it.
  Layout use_rate(double sample_rate);
  void check_continuity(Stream& stream, const Packet& packet, std::size_t samples);
  std::vector<float> read_samples(const Packet& packet, std::size_t& channels, bool& multichannel) const;
  void cut(Stream& stream, const Layout& layout, FrameBlock& block);
  std::shared_ptr<Packet> make_output(const Packet& from, const Layout& layout, double rate, FrameBlock& block,
                                      bool multichannel) const;
  void emit_stream(Stream& stream, FrameBlock& block, Emitter& out, bool end);
  std::string located(const std::string& message) const;

  const OutputPort* out_;
  double expected_rate_ = 0.0;
  std::mutex prepared_mutex_;  // rate_, layout_ and scratch_ (clips may run at the same time)
  double rate_ = 0.0;          // the rate the layout was prepared for
  Layout layout_;
  std::vector<std::unique_ptr<FrameScratch>> scratch_;
  std::map<std::string, Stream> streams_;  // serial: a node fed streams runs one packet at a time
};

}  // namespace tributary::features
