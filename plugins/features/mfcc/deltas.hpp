#pragma once
// Deltas and delta-deltas of frame features, as torchaudio.functional.compute_deltas
// (regression over win_length frames, edges replicated), on a whole clip or on a stream of
// blocks: a stream keeps the frames it needs for context and emits each frame once its right
// context has arrived, so the stream gives the same values as the clip.
#include <cstddef>

#include "dsp/audio_feature_node.hpp"

namespace tributary::features {

// block: [channels][frames][width] base features. Replaces it with the frames now complete,
// [channels][frames'][width * (1 + order)] (base, delta, delta-delta). order is 1 or 2.
void append_deltas(FrameBlock& block, BlockState& state, int order, std::size_t win_length, bool end);

}  // namespace tributary::features
