#include "audio_dataset/audio_dataset.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "testing/real_parts.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sources::testing;
using tributary::sources::AudioDataset;

namespace {

struct Run {
  std::vector<PacketPtr> packets;
  std::vector<LogRecord> logs;
  std::vector<MetricPoint> metrics;
  std::vector<Marker> markers;
};

Run run_all(const std::vector<TableEntry>& params) {
  auto h = NodeHarness::of<AudioDataset>(params);
  h.start();
  h.drain();
  h.flush();
  h.stop();
  return {h.output("out"), h.logs(), h.metrics(), h.markers("out")};
}

std::string error_of(const std::vector<TableEntry>& params) {
  try {
    run_all(params);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

std::string path_of(const PacketPtr& p) { return p->attribute("path")->as_string(); }

std::map<std::string, Split> splits_of(const std::vector<PacketPtr>& packets) {
  std::map<std::string, Split> splits;
  for (const auto& p : packets) splits[fs::path(path_of(p)).filename().string()] = p->split;
  return splits;
}

// The samples of a 16-bit PCM WAV file, as f32 in [-1, 1), read without GStreamer.
std::vector<float> wav_samples(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out;
  for (std::size_t at = 12; at + 8 <= bytes.size();) {
    std::uint32_t size = 0;
    std::memcpy(&size, bytes.data() + at + 4, 4);
    if (bytes.compare(at, 4, "data") == 0) {
      for (std::size_t i = at + 8; i + 2 <= at + 8 + size && i + 2 <= bytes.size(); i += 2) {
        std::int16_t v = 0;
        std::memcpy(&v, bytes.data() + i, 2);
        out.push_back(static_cast<float>(v) / 32768.0f);
      }
      break;
    }
    at += 8 + size + (size & 1);
  }
  return out;
}

double peak(const Tensor& t, std::int64_t from, std::int64_t to) {
  double m = 0.0;
  for (std::int64_t i = from; i < to; ++i) m = std::max(m, std::abs(t.at(i)));
  return m;
}

}  // namespace

TEST_CASE("audio_dataset reads a folder of class folders as labelled 1 s clips with class names") {
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 3, "yes,no");
  const auto run = run_all({{"path", data}});

  REQUIRE(run.packets.size() == 12);  // yes, no, unknown, silence
  const std::vector<std::string> classes{"no", "silence", "unknown", "yes"};
  std::map<std::string, int> per_class;
  for (std::size_t i = 0; i < run.packets.size(); ++i) {
    const Packet& p = *run.packets[i];
    CHECK(p.kind == PayloadKind::example);
    CHECK(p.sequence == i);
    REQUIRE(p.label.has_value());
    const std::string name = p.attribute("class")->as_string();
    CHECK(classes[static_cast<std::size_t>(*p.label)] == name);
    CHECK_THAT(path_of(run.packets[i]), Catch::Contains("/" + name + "/"));
    CHECK(p.split != Split::none);
    CHECK(p.tensors[0].shape() == Shape{16000, 1});
    CHECK(p.tensors[0].dtype() == DType::f32);
    CHECK(p.attribute("sample_rate")->as_int() == 16000);
    CHECK(p.attribute("epoch")->as_int() == 0);
    std::vector<std::string> names;
    for (const auto& v : p.attribute("classes")->as_list()) names.push_back(v.as_string());
    CHECK(names == classes);
    std::int64_t counted = 0;
    for (const char* split : {"train", "val", "test"}) {
      for (const auto& v : p.attribute("class_counts")->find(split)->as_list()) counted += v.as_int();
    }
    CHECK(counted == 12);
    ++per_class[name];
  }
  CHECK(per_class == std::map<std::string, int>{{"no", 3}, {"silence", 3}, {"unknown", 3}, {"yes", 3}});
  bool logged = false;
  for (const auto& log : run.logs) logged = logged || log.message.find("class 3 'yes': train") != std::string::npos;
  CHECK(logged);

  // Another rate and length: resampled by GStreamer, cut to the clip.
  const auto short_clips = run_all({{"path", data}, {"rate", 8000}, {"clip_ms", 250}});
  REQUIRE(short_clips.packets.size() == 12);
  CHECK(short_clips.packets[0]->tensors[0].shape() == Shape{2000, 1});
}

TEST_CASE("audio_dataset gives each file's own samples, in any order, over several epochs") {
  // Converters are reused from file to file; one cut off when its clip was full must not hand its
  // leftovers to the next file.
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 3, "yes,no");
  const auto run = run_all({{"path", data}, {"shuffle", true}, {"epochs", 2}, {"decoders", 1}});
  REQUIRE(run.packets.size() == 24);
  for (const auto& p : run.packets) {
    INFO(path_of(p));
    const std::vector<float> expected = wav_samples(path_of(p));
    REQUIRE(expected.size() == 16000);
    const Tensor& clip = p->tensors.at(0);
    REQUIRE(clip.numel() == 16000);
    double worst = 0.0;
    for (std::int64_t i = 0; i < 16000; ++i) worst = std::max(worst, std::abs(clip.at(i) - expected[i]));
    CHECK(worst < 1e-6);
  }
}

TEST_CASE("audio_dataset splits by a hash of each path: seedable, and stable when files are added") {
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 10, "yes");
  const auto before =
      splits_of(run_all({{"path", data}, {"seed", 5}, {"split", std::vector<Value>{0.6, 0.2, 0.2}}}).packets);
  REQUIRE(before.size() == 30);
  std::map<Split, int> sizes;
  for (const auto& [name, split] : before) ++sizes[split];
  CHECK(sizes[Split::train] >= 10);
  CHECK(sizes[Split::val] >= 1);
  CHECK(sizes[Split::test] >= 1);
  CHECK(splits_of(run_all({{"path", data}, {"seed", 5}, {"split", std::vector<Value>{0.6, 0.2, 0.2}}}).packets) ==
        before);

  // New files in every class leave the splits of the old ones as they were.
  for (const char* name : {"yes", "unknown", "silence"}) {
    for (int i = 0; i < 3; ++i) {
      fs::copy_file(data + "/" + name + "/" + name + "_000" + std::to_string(i) + ".wav",
                    data + "/" + name + "/" + name + "_new" + std::to_string(i) + ".wav");
    }
  }
  const auto after =
      splits_of(run_all({{"path", data}, {"seed", 5}, {"split", std::vector<Value>{0.6, 0.2, 0.2}}}).packets);
  REQUIRE(after.size() == 39);
  for (const auto& [name, split] : before) CHECK(after.at(name) == split);

  const auto other_seed =
      splits_of(run_all({{"path", data}, {"seed", 6}, {"split", std::vector<Value>{0.6, 0.2, 0.2}}}).packets);
  int moved = 0;
  for (const auto& [name, split] : after) moved += other_seed.at(name) != split;
  CHECK(moved > 0);
}

TEST_CASE("audio_dataset shuffles each epoch differently, the same on every run, and marks the epoch") {
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 3, "go");
  const std::vector<TableEntry> params{{"path", data}, {"shuffle", true}, {"epochs", 3}, {"seed", 2}};
  const auto run = run_all(params);
  REQUIRE(run.packets.size() == 27);
  std::vector<std::vector<std::string>> epochs(3);
  for (const auto& p : run.packets) {
    epochs[static_cast<std::size_t>(p->attribute("epoch")->as_int())].push_back(path_of(p));
  }
  for (const auto& e : epochs) {
    REQUIRE(e.size() == 9);
    CHECK(std::set<std::string>(e.begin(), e.end()) == std::set<std::string>(epochs[0].begin(), epochs[0].end()));
  }
  CHECK((epochs[0] != epochs[1] || epochs[1] != epochs[2]));
  const auto again = run_all(params);
  for (std::size_t i = 0; i < run.packets.size(); ++i) CHECK(path_of(again.packets[i]) == path_of(run.packets[i]));
  int epoch_points = 0;
  for (const auto& m : run.metrics) epoch_points += m.name == "dataset/epoch_clips" && m.value == 9;
  CHECK(epoch_points == 3);
  // Each epoch ends with an in-band marker, in order.
  REQUIRE(run.markers.size() == 3);
  for (std::size_t e = 0; e < 3; ++e) {
    CHECK(run.markers[e].kind == MarkerKind::epoch_end);
    CHECK(run.markers[e].epoch == static_cast<std::int64_t>(e));
  }
  // Cached clips are the same clips.
  const auto cached = run_all({{"path", data}, {"epochs", 2}, {"cache", true}});
  REQUIRE(cached.packets.size() == 18);
  CHECK(cached.packets[9]->tensors[0].at(8000) == cached.packets[0]->tensors[0].at(8000));
}

TEST_CASE("audio_dataset cuts long files and zero-pads short ones to clip_ms") {
  ScratchDir dir;
  fs::create_directories(dir.file("set/long"));
  fs::create_directories(dir.file("set/short"));
  const std::string word = spoken_wav(dir, "remarkable", "word.wav");
  shell("sox " + quote(word) + " -r 16000 " + quote(dir.file("set/short/word.wav")) + " trim 0 0.3");
  shell("sox " + quote(word) + " " + quote(word) + " " + quote(word) + " " + quote(dir.file("set/long/three.wav")));
  const auto run = run_all({{"path", dir.file("set")}, {"clip_ms", 500}});
  REQUIRE(run.packets.size() == 2);
  const Tensor& long_clip = run.packets[0]->tensors[0];
  const Tensor& short_clip = run.packets[1]->tensors[0];
  CHECK(run.packets[0]->attribute("class")->as_string() == "long");
  CHECK(long_clip.shape() == Shape{8000, 1});
  CHECK(short_clip.shape() == Shape{8000, 1});
  CHECK(peak(short_clip, 0, 4700) > 0.01);     // 0.3 s of speech...
  CHECK(peak(short_clip, 4900, 8000) == 0.0);  // ...then zeros
}

TEST_CASE("audio_dataset reads a manifest CSV: relative paths, labels, and splits it gives") {
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 2, "up,down");
  {
    std::ofstream out(dir.file("manifest.csv"));
    out << "path,label,split\n"
        << "kws/up/up_0000.wav,up,test\n"
        << "kws/up/up_0001.wav,up,\n"
        << "\"kws/down/down_0000.wav\",down,val\n"
        << data << "/down/down_0001.wav,down,train\n";
  }
  const auto run = run_all({{"manifest", dir.file("manifest.csv")}});
  REQUIRE(run.packets.size() == 4);
  CHECK(run.packets[0]->label == 1);  // classes sorted: down, up
  CHECK(run.packets[0]->split == Split::test);
  CHECK(run.packets[1]->split != Split::none);
  CHECK(run.packets[2]->split == Split::val);
  CHECK(run.packets[2]->attribute("class")->as_string() == "down");
  CHECK(run.packets[3]->split == Split::train);

  // The manifest the script writes beside the data set reads as the folder does.
  CHECK(run_all({{"manifest", data + "/manifest.csv"}}).packets.size() == 8);

  {
    std::ofstream(dir.file("bad.csv")) << "kws/up/up_0000.wav,up\nkws/up/up_0001.wav\n";
    std::ofstream(dir.file("bad_split.csv")) << "kws/up/up_0000.wav,up,holdout\n";
  }
  CHECK_THAT(error_of({{"manifest", dir.file("bad.csv")}}), Catch::Contains("bad.csv:2: expected path,label"));
  CHECK_THAT(error_of({{"manifest", dir.file("bad_split.csv")}}), Catch::Contains("bad_split.csv:1: the split is"));
  CHECK_THAT(error_of({{"manifest", dir.file("none.csv")}}), Catch::Contains("cannot open the manifest"));
}

TEST_CASE("audio_dataset fails on an unreadable file naming it, or skips it, logs its path and counts it") {
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 2, "on");
  const std::string broken = data + "/on/broken.wav";
  std::ofstream(broken, std::ios::binary) << "RIFF, but not really a wave file at all";

  CHECK_THAT(error_of({{"path", data}}), Catch::Contains(broken) && Catch::Contains("could not be decoded") &&
                                             Catch::Contains("on_error = \"skip\""));
  const auto run = run_all({{"path", data}, {"on_error", "skip"}, {"epochs", 2}});
  CHECK(run.packets.size() == 12);
  int warned = 0;
  for (const auto& log : run.logs)
    warned += log.level == LogLevel::warn && log.message.find(broken) != std::string::npos;
  CHECK(warned == 1);  // once: a skipped file is not read again
  double skipped = 0;
  for (const auto& m : run.metrics) {
    if (m.name == "dataset/skipped") skipped = m.value;
  }
  CHECK(skipped == 1);
}

TEST_CASE("audio_dataset skips a named pipe in a manifest instead of waiting on it") {
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 2, "on");
  const std::string pipe = dir.file("pipe.wav");
  REQUIRE(::mkfifo(pipe.c_str(), 0644) == 0);  // no writer: opening it to read would wait forever
  std::ofstream(dir.file("manifest.csv")) << "kws/on/on_0000.wav,on\npipe.wav,on\nkws/on/on_0001.wav,on\n";
  const auto run = run_all({{"manifest", dir.file("manifest.csv")}, {"on_error", "skip"}});
  CHECK(run.packets.size() == 2);
  int warned = 0;
  for (const auto& log : run.logs) {
    warned += log.level == LogLevel::warn && log.message.find(pipe) != std::string::npos &&
              log.message.find("not a regular file") != std::string::npos;
  }
  CHECK(warned == 1);
}

TEST_CASE("audio_dataset names a missing or empty folder and wants one of path and manifest") {
  ScratchDir dir;
  CHECK_THAT(error_of({{"path", dir.file("nowhere")}}),
             Catch::Contains("nowhere") && Catch::Contains("does not exist"));
  fs::create_directories(dir.file("empty/class"));
  CHECK_THAT(error_of({{"path", dir.file("empty")}}), Catch::Contains("holds no audio files"));
  CHECK_THROWS_WITH(NodeHarness::of<AudioDataset>({}), Catch::Contains("set 'path'"));
  CHECK_THROWS_WITH(NodeHarness::of<AudioDataset>({{"path", "a"}, {"manifest", "b.csv"}}), Catch::Contains("only one"));
}

TEST_CASE("audio_dataset decodes FLAC and OGG files, and a file named .wav that holds another format") {
  ScratchDir dir;
  fs::create_directories(dir.file("set/words"));
  const std::string word = spoken_wav(dir, "hello", "hello.wav");
  sox_convert(word, dir.file("set/words/a.flac"), "");
  sox_convert(word, dir.file("set/words/b.ogg"), "");
  sox_convert(word, dir.file("set/words/c.flac"), "");
  fs::rename(dir.file("set/words/c.flac"), dir.file("set/words/c.wav"));
  const auto run = run_all({{"path", dir.file("set")}, {"clip_ms", 500}});
  REQUIRE(run.packets.size() == 3);
  for (const auto& p : run.packets) CHECK(peak(p->tensors[0], 0, 8000) > 0.05);
}

namespace {

// The clips of a run by file name without its ending.
std::map<std::string, Tensor> clips_by_name(const Run& run) {
  std::map<std::string, Tensor> clips;
  for (const auto& p : run.packets) clips.emplace(fs::path(path_of(p)).stem().string(), p->tensors.at(0));
  return clips;
}

int logged(const Run& run, const std::string& text) {
  int n = 0;
  for (const auto& log : run.logs) n += log.message.find(text) != std::string::npos;
  return n;
}

double worst_difference(const Tensor& a, const Tensor& b) {
  double worst = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.at(i) - b.at(i)));
  return worst;
}

}  // namespace

TEST_CASE("audio_dataset reads PCM and float WAV files itself and gives the very clips decodebin gives") {
  // The same files decoded both ways: named .wav, the node reads them; named .riff, decodebin
  // does (wavparse, audioconvert, audioresample), for the same rate, resampled, and mixed.
  ScratchDir dir;
  const std::string word = spoken_wav(dir, "seven hundred and twelve", "word.wav");
  fs::create_directories(dir.file("set/w"));
  fs::create_directories(dir.file("ref/w"));
  const std::pair<const char*, const char*> formats[] = {
      {"s16", "-e signed -b 16 -r 16000"},
      {"s24", "-e signed -b 24 -r 16000"},
      {"s32", "-e signed -b 32 -r 16000"},
      {"u8", "-e unsigned -b 8 -r 16000"},
      {"f32", "-e float -b 32 -r 16000"},
      {"f64", "-e float -b 64 -r 16000"},
      {"stereo_44k", "-e signed -b 16 -r 44100 -c 2"},
      {"quad_48k", "-e signed -b 24 -r 48000 -c 4"},  // WAVE_FORMAT_EXTENSIBLE with a channel mask
      {"six_22k", "-e float -b 32 -r 22050 -c 6"},    // six channels without a mask: decodebin's
  };
  for (const auto& [name, options] : formats) {
    const std::string wav = dir.file(std::string("set/w/") + name + ".wav");
    sox_convert(word, wav, options);
    fs::copy_file(wav, dir.file(std::string("ref/w/") + name + ".riff"));
  }
  // Shorter than the clip: zero-padded.
  shell("sox " + quote(word) + " -r 16000 " + quote(dir.file("set/w/short.wav")) + " trim 0 0.4");
  fs::copy_file(dir.file("set/w/short.wav"), dir.file("ref/w/short.riff"));
  {  // A file cut in the middle of its data chunk: what is there, then zeros, as wavparse reads it.
    const std::string whole = dir.file("set/w/s16.wav");
    fs::copy_file(whole, dir.file("set/w/cut.wav"));
    fs::resize_file(dir.file("set/w/cut.wav"), 44 + 16000 + 1);  // 0.5 s after sox's 44-byte header, and a byte
    fs::copy_file(dir.file("set/w/cut.wav"), dir.file("ref/w/cut.riff"));
  }
  const std::vector<std::pair<int, int>> outputs{{16000, 1}, {8000, 1}, {16000, 2}, {44100, 1}};
  for (const auto& [rate, channels] : outputs) {
    INFO("rate " << rate << ", channels " << channels);
    const std::vector<TableEntry> common{{"rate", rate}, {"channels", channels}, {"clip_ms", 1000}};
    auto with = [&](std::vector<TableEntry> params) {
      params.insert(params.end(), common.begin(), common.end());
      return params;
    };
    const Run own = run_all(with({{"path", dir.file("set")}}));
    const Run ref = run_all(with({{"path", dir.file("ref")}, {"extensions", std::vector<Value>{".riff"}}}));
    // Every one read by the node itself, but the one whose channels wavparse places its own way.
    CHECK(logged(own, "is decoded by decodebin") == 1);
    CHECK(logged(own, "six_22k.wav' is decoded by decodebin: 6 channels without a channel mask") == 1);
    const auto mine = clips_by_name(own);
    const auto theirs = clips_by_name(ref);
    REQUIRE(mine.size() == 11);
    REQUIRE(theirs.size() == 11);
    for (const auto& [name, clip] : mine) {
      INFO(name);
      const Tensor& expected = theirs.at(name);
      REQUIRE(clip.shape() == Shape{rate, channels});
      REQUIRE(expected.shape() == clip.shape());
      CHECK(peak(clip, 0, clip.numel()) > 0.05);
      // The same conversion, then the same Kaiser filter in f32 with its tail drained the same
      // way: the same samples, tails and cut files included.
      CHECK(worst_difference(clip, expected) == 0.0);
    }
    const Tensor& cut = mine.at("cut");
    const Tensor& whole = mine.at("s16");
    const std::int64_t kept = static_cast<std::int64_t>(channels) * rate * 45 / 100;  // less than the cut's 0.5 s
    CHECK(worst_difference(Tensor::from_vector(std::vector<float>(cut.data<float>(), cut.data<float>() + kept)),
                           Tensor::from_vector(std::vector<float>(whole.data<float>(), whole.data<float>() + kept))) <
          1e-6);
    CHECK(peak(cut, static_cast<std::int64_t>(channels) * rate * 55 / 100, cut.numel()) == 0.0);
  }
}

TEST_CASE("audio_dataset decodes a mu-law or A-law WAV file through decodebin, and names a broken one") {
  ScratchDir dir;
  const std::string word = spoken_wav(dir, "seven", "word.wav");
  fs::create_directories(dir.file("set/w"));
  // 0.6 s: wavparse hands mulawdec nothing of a data chunk of an odd number of bytes.
  shell("sox " + quote(word) + " -e u-law -r 16000 " + quote(dir.file("set/w/mulaw.wav")) + " trim 0 0.6");
  shell("sox " + quote(word) + " -e a-law -r 16000 " + quote(dir.file("set/w/alaw.wav")) + " trim 0 0.6");
  const Run run = run_all({{"path", dir.file("set")}, {"clip_ms", 500}});
  REQUIRE(run.packets.size() == 2);
  for (const auto& p : run.packets) CHECK(peak(p->tensors[0], 0, 8000) > 0.05);
  CHECK(logged(run, "mulaw.wav' is decoded by decodebin: format tag 0x0007 (mu-law), not PCM or IEEE float") == 1);
  CHECK(logged(run, "alaw.wav' is decoded by decodebin: format tag 0x0006 (A-law)") == 1);

  // A header cut inside its fmt chunk: decodebin's error, the path, and what the header lacks.
  const std::string cut = dir.file("set/w/cut.wav");
  fs::copy_file(dir.file("set/w/mulaw.wav"), cut);
  fs::resize_file(cut, 30);
  CHECK_THAT(error_of({{"path", dir.file("set")}}),
             Catch::Contains("'" + cut + "' could not be decoded as audio: ") &&
                 Catch::Contains("(its WAV header: the fmt chunk runs past the end of the file)") &&
                 Catch::Contains("on_error = \"skip\""));
}

TEST_CASE("audio_dataset gives the same clips in the same order with any number of decoders") {
  ScratchDir dir;
  const std::string data = dir.file("kws");
  make_kws_dataset(data, 4, "yes,no");
  const std::string word = spoken_wav(dir, "seven", "word.wav");
  sox_convert(word, data + "/yes/other.flac", "");
  shell("sox " + quote(word) + " -e u-law " + quote(data + "/no/mulaw.wav") + " trim 0 0.6");
  sox_convert(word, data + "/no/stereo.wav", "-r 44100 -c 2");
  std::ofstream(data + "/no/broken.wav", std::ios::binary) << "RIFF, but not really a wave file at all";
  const std::vector<TableEntry> common{
      {"path", data}, {"shuffle", true}, {"epochs", 3}, {"rate", 8000}, {"on_error", "skip"}};
  auto with = [&](std::int64_t decoders) {
    std::vector<TableEntry> params = common;
    params.push_back({"decoders", decoders});
    return run_all(params);
  };
  const Run one = with(1);
  REQUIRE(one.packets.size() == 3 * 19);  // 16 spoken clips and 3 more a epoch, without the broken file
  for (std::int64_t decoders : {3, 8}) {
    INFO("decoders = " << decoders);
    const Run many = with(decoders);
    REQUIRE(many.packets.size() == one.packets.size());
    for (std::size_t i = 0; i < one.packets.size(); ++i) {
      const Packet& a = *one.packets[i];
      const Packet& b = *many.packets[i];
      INFO(i << ": " << path_of(one.packets[i]));
      REQUIRE(path_of(many.packets[i]) == path_of(one.packets[i]));
      CHECK(b.sequence == a.sequence);
      CHECK(b.label == a.label);
      CHECK(b.attribute("epoch")->as_int() == a.attribute("epoch")->as_int());
      REQUIRE(b.tensors[0].shape() == a.tensors[0].shape());
      CHECK(std::memcmp(b.tensors[0].data<float>(), a.tensors[0].data<float>(),
                        static_cast<std::size_t>(a.tensors[0].numel()) * sizeof(float)) == 0);
    }
    CHECK(many.markers.size() == 3);
    CHECK(logged(many, "skipping '" + data + "/no/broken.wav") == 1);
  }
}

TEST_CASE("audio_dataset reads a long WAV file past its first bytes, and a header with a large chunk before the data") {
  ScratchDir dir;
  const std::string word = spoken_wav(dir, "seven hundred and twelve", "word.wav");
  fs::create_directories(dir.file("set/w"));
  fs::create_directories(dir.file("ref/w"));
  // 48 kHz stereo f64: the 3 s clip needs 2.3 MB of samples, read after the header's first bytes.
  shell("sox " + quote(word) + " -e float -b 64 -r 48000 -c 2 " + quote(dir.file("set/w/long.wav")) + " repeat 3");
  {  // A 100 kB LIST chunk between the fmt and data chunks of sox's file.
    std::ifstream in(dir.file("set/w/long.wav"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t data = bytes.find("data");
    REQUIRE(data != std::string::npos);
    const std::uint32_t size = 100000;
    std::string list = "LIST";
    for (int i = 0; i < 4; ++i) list += static_cast<char>((size >> (8 * i)) & 0xff);
    list += std::string(size, 'x');
    std::ofstream(dir.file("set/w/listed.wav"), std::ios::binary) << bytes.substr(0, data) + list + bytes.substr(data);
  }
  for (const char* name : {"long", "listed"}) {
    fs::copy_file(dir.file(std::string("set/w/") + name + ".wav"), dir.file(std::string("ref/w/") + name + ".riff"));
  }
  const std::vector<TableEntry> common{{"rate", 16000}, {"clip_ms", 3000}};
  auto with = [&](std::vector<TableEntry> params) {
    params.insert(params.end(), common.begin(), common.end());
    return params;
  };
  const Run own = run_all(with({{"path", dir.file("set")}}));
  const Run ref = run_all(with({{"path", dir.file("ref")}, {"extensions", std::vector<Value>{".riff"}}}));
  CHECK(logged(own, "is decoded by decodebin") == 0);
  const auto mine = clips_by_name(own);
  const auto theirs = clips_by_name(ref);
  REQUIRE(mine.size() == 2);
  REQUIRE(theirs.size() == 2);
  for (const auto& [name, clip] : mine) {
    INFO(name);
    REQUIRE(clip.shape() == Shape{48000, 1});
    CHECK(peak(clip, 40000, 48000) > 0.05);  // speech to the clip's end
    CHECK(worst_difference(clip, theirs.at(name)) == 0.0);
  }
  CHECK(worst_difference(mine.at("long"), mine.at("listed")) == 0.0);
}
