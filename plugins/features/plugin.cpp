#include "tributary/plugin.hpp"

#include "augment/augment.hpp"
#include "cache/cache.hpp"
#include "denoise/denoise.hpp"
#include "frame_stats/frame_stats.hpp"
#include "identity/identity.hpp"
#include "image/image.hpp"
#include "mel/mel.hpp"
#include "mfcc/mfcc.hpp"
#include "normalize/normalize.hpp"
#include "spectral/spectral.hpp"
#include "standardize/standardize.hpp"
#include "stft/stft.hpp"
#include "window/window.hpp"

TRIBUTARY_PLUGIN("features") {
  registrar.add<tributary::features::Identity>();
  registrar.add<tributary::features::Standardize>();
  registrar.add<tributary::features::Stft>();
  registrar.add<tributary::features::Mel>();
  registrar.add<tributary::features::Mfcc>();
  registrar.add<tributary::features::Spectral>();
  registrar.add<tributary::features::Denoise>();
  registrar.add<tributary::features::Augment>();
  registrar.add<tributary::features::FrameWindow>();
  registrar.add<tributary::features::Normalize>();
  registrar.add<tributary::features::ImageFrames>();
  registrar.add<tributary::features::FrameStats>();
  registrar.add<tributary::features::Cache>();
}
