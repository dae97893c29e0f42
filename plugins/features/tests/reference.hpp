#pragma once
// The torchaudio references of the feature tests: tests/reference.py, run once per test process
// with /usr/bin/python3, writes signals and expected outputs; this reads them.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "tributary/node.hpp"
#include "tributary/testing.hpp"

namespace tributary::features::testing {

struct ReferenceSignal {
  std::vector<float> samples;  // interleaved when channels > 1
  std::size_t channels = 1;
  double sample_rate = 0.0;
};

struct ReferenceCase {
  std::string id;
  std::string node;  // stft, mel, mfcc
  std::string signal;
  std::vector<TableEntry> params;
  std::vector<float> expected;
  // Per value, how far ours may differ beyond the tolerance for a reason the reference knows:
  // denoise's bins within rounding of their threshold may gate either way. Empty: nothing.
  std::vector<float> allowance;
  Shape shape;
};

struct ReferenceImage {
  std::vector<std::uint8_t> pixels;  // [height, width, channels]
  std::int64_t height = 0, width = 0, channels = 0;
};

struct References {
  std::map<std::string, ReferenceSignal> signals;
  std::map<std::string, ReferenceImage> images;
  std::vector<ReferenceCase> cases;
};

// Throws std::runtime_error saying what is missing when the script cannot run.
const References& references();

// A harness for a node type by name, with these parameters.
NodeHarness harness_for(const std::string& node, const std::vector<TableEntry>& params);

// The signal as one example packet (a whole clip), or cut into audio chunks of the given sizes
// (cycled) on one stream.
PacketPtr clip_packet(const ReferenceSignal& signal);
std::vector<PacketPtr> stream_packets(const ReferenceSignal& signal, const std::vector<std::size_t>& chunks);

// max |a - b| / max |b| over all values (less each value's allowance, where one is given), and
// where the largest difference is.
struct Difference {
  double relative = 0.0;
  double absolute = 0.0;
  std::size_t index = 0;
};
Difference compare(const std::vector<float>& ours, const std::vector<float>& reference,
                   const std::vector<float>& allowance = {});

std::vector<float> values_of(const Tensor& t);

}  // namespace tributary::features::testing

namespace tributary::features::testing {

// Every reference case of `node`: our output for the whole clip against torchaudio's, within
// max |ours - torchaudio| / max |torchaudio| <= tolerance, with the same shape.
void check_cases_against_torchaudio(const std::string& node, double tolerance);
// Every reference case of `node` (with top_db 0, whose clip-wide peak a stream cannot know):
// the signal pushed as a stream of odd-sized chunks gives the clip's frames, bit for bit, with
// timestamps and first_frame attributes that tile the stream.
void check_stream_matches_clip(const std::string& node);

}  // namespace tributary::features::testing
