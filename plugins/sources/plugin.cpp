// The sources family: nodes that start streams.
#include "tributary/plugin.hpp"

#include "audio/audio.hpp"
#include "audio_dataset/audio_dataset.hpp"
#include "gst/gst.hpp"
#include "screen/screen.hpp"
#include "sync/sync.hpp"
#include "synthetic/synthetic.hpp"
#include "table/table.hpp"

TRIBUTARY_PLUGIN("sources") {
  registrar.add<tributary::sources::Audio>();
  registrar.add<tributary::sources::AudioDataset>();
  registrar.add<tributary::sources::Gst>();
  registrar.add<tributary::sources::Screen>();
  registrar.add<tributary::sources::Sync>();
  registrar.add<tributary::sources::Synthetic>();
  registrar.add<tributary::sources::Table>();
}
