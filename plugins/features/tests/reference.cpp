#include "tests/reference.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "denoise/denoise.hpp"
#include "mel/mel.hpp"
#include "mfcc/mfcc.hpp"
#include "spectral/spectral.hpp"
#include "stft/stft.hpp"

namespace tributary::features::testing {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

std::vector<float> read_f32(const std::string& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open reference file " + path);
  std::vector<float> v(count);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (static_cast<std::size_t>(in.gcount()) != count * sizeof(float)) {
    throw std::runtime_error("reference file " + path + " is shorter than its manifest says");
  }
  return v;
}

Value to_param(const nlohmann::json& j) {
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number()) return Value(j.get<double>());
  if (j.is_string()) return Value(j.get<std::string>());
  if (j.is_array()) {
    std::vector<Value> items;
    for (const auto& item : j) items.push_back(to_param(item));
    return Value(std::move(items));
  }
  throw std::runtime_error("unsupported parameter value in the manifest: " + j.dump());
}

References load() {
  // One run serves every test process: the references live in the build tree until the script
  // changes. Each run writes a folder of its own and renames it into place, so parallel test
  // processes never read a half-written one.
  namespace fs = std::filesystem;
  const fs::path dir = TRIBUTARY_FEATURES_REFERENCE_DIR;
  const fs::path script = TRIBUTARY_FEATURES_REFERENCE_SCRIPT;
  const auto fresh = [&] {
    std::error_code error;
    const auto made = fs::last_write_time(dir / "manifest.json", error);
    return !error && made >= fs::last_write_time(script);
  };
  if (!fresh()) {
    if (!std::filesystem::exists(kPython)) {
      throw std::runtime_error(std::string(kPython) +
                               " is missing: the feature tests compare with torchaudio there (scripts/setup.sh "
                               "installs python3-torchaudio)");
    }
    const std::string check = std::string(kPython) + " -c 'import torchaudio' >/dev/null 2>&1";
    if (std::system(check.c_str()) != 0) {
      throw std::runtime_error(std::string("torchaudio cannot be imported by ") + kPython +
                               ": run scripts/setup.sh (python3-torchaudio, espeak-ng, sox)");
    }
    const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    const std::string log = (tmp / "reference.log").string();
    const std::string command =
        std::string(kPython) + " " + script.string() + " " + tmp.string() + " >" + log + " 2>&1";
    if (std::system(command.c_str()) != 0) {
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      throw std::runtime_error("the reference script failed (" + command + "):\n" + text);
    }
    std::error_code ignored;
    if (!fresh()) {  // unless another test process got there first
      fs::remove_all(dir, ignored);
      fs::rename(tmp, dir, ignored);
    }
    fs::remove_all(tmp, ignored);
  }
  std::ifstream in(dir / "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  References refs;
  for (const auto& [name, s] : manifest.at("signals").items()) {
    ReferenceSignal signal;
    signal.channels = s.at("channels").get<std::size_t>();
    signal.sample_rate = s.at("sample_rate").get<double>();
    signal.samples = read_f32((dir / s.at("file").get<std::string>()).string(),
                              s.at("samples").get<std::size_t>() * signal.channels);
    refs.signals[name] = std::move(signal);
  }
  for (const auto& [name, m] : manifest.at("images").items()) {
    ReferenceImage image;
    image.height = m.at("height").get<std::int64_t>();
    image.width = m.at("width").get<std::int64_t>();
    image.channels = m.at("channels").get<std::int64_t>();
    std::ifstream file((dir / m.at("file").get<std::string>()).string(), std::ios::binary);
    image.pixels.resize(static_cast<std::size_t>(image.height * image.width * image.channels));
    file.read(reinterpret_cast<char*>(image.pixels.data()), static_cast<std::streamsize>(image.pixels.size()));
    if (!file) throw std::runtime_error("reference image " + name + " is shorter than its manifest says");
    refs.images[name] = std::move(image);
  }
  for (const auto& c : manifest.at("cases")) {
    ReferenceCase rc;
    rc.id = c.at("id").get<std::string>();
    rc.node = c.at("node").get<std::string>();
    rc.signal = c.at("signal").get<std::string>();
    for (const auto& [key, value] : c.at("params").items()) {
      // Files the script wrote are named relative to its folder.
      if (key == "noise_path") {
        rc.params.push_back({key, Value((dir / value.get<std::string>()).string())});
      } else {
        rc.params.push_back({key, to_param(value)});
      }
    }
    std::size_t count = 1;
    for (const auto& d : c.at("shape")) {
      rc.shape.push_back(d.get<std::int64_t>());
      count *= d.get<std::size_t>();
    }
    rc.expected = read_f32((dir / c.at("file").get<std::string>()).string(), count);
    if (c.contains("allowance")) rc.allowance = read_f32((dir / c.at("allowance").get<std::string>()).string(), count);
    refs.cases.push_back(std::move(rc));
  }
  return refs;
}

}  // namespace

const References& references() {
  static const References refs = load();
  return refs;
}

NodeHarness harness_for(const std::string& node, const std::vector<TableEntry>& params) {
  if (node == "stft") return NodeHarness::of<Stft>(params);
  if (node == "mel") return NodeHarness::of<Mel>(params);
  if (node == "mfcc") return NodeHarness::of<Mfcc>(params);
  if (node == "spectral") return NodeHarness::of<Spectral>(params);
  if (node == "denoise") return NodeHarness::of<Denoise>(params);
  throw std::invalid_argument("no node type " + node);
}

namespace {
Tensor audio_tensor(const ReferenceSignal& signal, std::size_t begin, std::size_t end) {
  std::vector<float> v(signal.samples.begin() + static_cast<std::ptrdiff_t>(begin * signal.channels),
                       signal.samples.begin() + static_cast<std::ptrdiff_t>(end * signal.channels));
  const auto n = static_cast<std::int64_t>(end - begin);
  if (signal.channels == 1) return Tensor::from_vector(std::move(v), {n});
  return Tensor::from_vector(std::move(v), {n, static_cast<std::int64_t>(signal.channels)});
}
}  // namespace

PacketPtr clip_packet(const ReferenceSignal& signal) {
  auto p = make_packet(PayloadKind::example);
  p->tensors.push_back(audio_tensor(signal, 0, signal.samples.size() / signal.channels));
  p->set_attribute("sample_rate", static_cast<std::int64_t>(signal.sample_rate));
  p->label = 3;
  p->split = Split::train;
  return p;
}

std::vector<PacketPtr> stream_packets(const ReferenceSignal& signal, const std::vector<std::size_t>& chunks) {
  std::vector<PacketPtr> packets;
  const std::size_t total = signal.samples.size() / signal.channels;
  std::size_t at = 0;
  for (std::size_t i = 0; at < total; ++i) {
    const std::size_t end = std::min(total, at + chunks[i % chunks.size()]);
    auto p = make_packet(PayloadKind::audio);
    p->stream = "mic";
    p->sequence = i;
    p->timestamp_ns = static_cast<std::int64_t>(std::llround(static_cast<double>(at) * 1e9 / signal.sample_rate));
    p->tensors.push_back(audio_tensor(signal, at, end));
    p->set_attribute("sample_rate", static_cast<std::int64_t>(signal.sample_rate));
    packets.push_back(std::move(p));
    at = end;
  }
  return packets;
}

Difference compare(const std::vector<float>& ours, const std::vector<float>& reference,
                   const std::vector<float>& allowance) {
  Difference d;
  double peak = 0.0;
  for (std::size_t i = 0; i < reference.size() && i < ours.size(); ++i) {
    double diff = std::abs(static_cast<double>(ours[i]) - reference[i]);
    if (i < allowance.size()) diff = std::max(0.0, diff - allowance[i]);
    if (diff > d.absolute) {
      d.absolute = diff;
      d.index = i;
    }
    peak = std::max(peak, std::abs(static_cast<double>(reference[i])));
  }
  d.relative = peak > 0.0 ? d.absolute / peak : d.absolute;
  return d;
}

std::vector<float> values_of(const Tensor& t) {
  const float* p = t.data<float>();
  return {p, p + t.numel()};
}

}  // namespace tributary::features::testing

#include <catch2/catch.hpp>

namespace tributary::features::testing {

namespace {
std::vector<float> run_clip(const ReferenceCase& c, const std::vector<TableEntry>& params, Shape& shape) {
  auto h = harness_for(c.node, params);
  h.start();
  h.push("in", clip_packet(references().signals.at(c.signal)));
  h.flush();
  REQUIRE(h.output().size() == 1);
  const auto& out = *h.output()[0];
  CHECK(out.kind == PayloadKind::example);
  CHECK(out.label == 3);
  CHECK(out.split == Split::train);
  shape = out.tensors.at(0).shape();
  return values_of(out.tensors.at(0));
}
}  // namespace

void check_cases_against_torchaudio(const std::string& node, double tolerance) {
  std::size_t checked = 0;
  for (const auto& c : references().cases) {
    if (c.node != node) continue;
    ++checked;
    INFO("case " << c.id << " (" << c.node << " on " << c.signal << ")");
    Shape shape;
    const auto ours = run_clip(c, c.params, shape);
    REQUIRE(to_string(shape) == to_string(c.shape));
    const auto d = compare(ours, c.expected, c.allowance);
    INFO("max |ours - torchaudio| = " << d.absolute << " at value " << d.index << " (ours " << ours[d.index]
                                      << ", torchaudio " << c.expected[d.index] << "); relative " << d.relative);
    CHECK(d.relative <= tolerance);
    // TRIBUTARY_FEATURES_REPORT=1 prints the measured accuracy of every case.
    if (std::getenv("TRIBUTARY_FEATURES_REPORT") != nullptr) {
      std::printf("%-26s %-6s %-7s shape %-12s max|diff|/max|ref| %.2e\n", c.id.c_str(), c.node.c_str(),
                  c.signal.c_str(), to_string(shape).c_str(), d.relative);
    }
  }
  CHECK(checked > 0);
}

void check_stream_matches_clip(const std::string& node) {
  for (const auto& c : references().cases) {
    if (c.node != node) continue;
    INFO("case " << c.id);
    auto params = c.params;
    params.erase(std::remove_if(params.begin(), params.end(), [](const TableEntry& e) { return e.key == "top_db"; }),
                 params.end());
    params.push_back({"top_db", 0.0});
    if (node == "stft" || node == "spectral") params.pop_back();
    Shape shape;
    const auto clip = run_clip(c, params, shape);

    const auto& signal = references().signals.at(c.signal);
    auto h = harness_for(c.node, params);
    h.start();
    for (const auto& p : stream_packets(signal, {1, 37, 160, 1000, 4097, 3})) h.push("in", p);
    h.flush();
    const bool multichannel = shape.size() == 3;
    const std::int64_t frames = multichannel ? shape[1] : shape[0];
    const std::int64_t width = shape.back();
    const std::int64_t channels = multichannel ? shape[0] : 1;
    std::vector<float> streamed(clip.size());
    std::int64_t next = 0;
    for (const auto& out : h.output()) {
      CHECK(out->kind == PayloadKind::features);
      CHECK(out->stream == "mic");
      const Tensor& t = out->tensors.at(0);
      const std::int64_t n = multichannel ? t.dim(1) : t.dim(0);
      REQUIRE(out->attribute("first_frame") != nullptr);
      CHECK(out->attribute("first_frame")->as_int() == next);
      const double hop = out->attribute("hop_length")->as_number();
      CHECK(out->timestamp_ns == std::llround(static_cast<double>(next) * hop * 1e9 / signal.sample_rate));
      REQUIRE(next + n <= frames);
      const auto v = values_of(t);
      for (std::int64_t ch = 0; ch < channels; ++ch) {
        std::copy_n(v.begin() + ch * n * width, n * width, streamed.begin() + (ch * frames + next) * width);
      }
      next += n;
    }
    CHECK(next == frames);
    for (const auto& record : h.logs()) CHECK(record.message.find("gap") == std::string::npos);
    const auto d = compare(streamed, clip);
    INFO("max |stream - clip| = " << d.absolute << " at value " << d.index);
    CHECK(d.absolute == 0.0);
  }
}

}  // namespace tributary::features::testing
