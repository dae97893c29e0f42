#include "gstreamer/tensors.hpp"

#include <catch2/catch.hpp>
#include <numeric>

#include "gstreamer/stream.hpp"

using namespace tributary;
using namespace tributary::sources;

namespace {

Tensor ramp(std::int64_t from, std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), static_cast<float>(from));
  return Tensor::from_vector(std::move(v), {n, 1});
}

}  // namespace

TEST_CASE("the audio chunker cuts buffers of any size into chunks, views where it can, in order") {
  AudioChunker chunker(4);
  std::vector<Tensor> chunks;
  std::vector<std::int64_t> times;
  auto sink = [&](Tensor t, std::int64_t ns) {
    chunks.push_back(t);
    times.push_back(ns);
  };
  const Tensor first = ramp(0, 10);
  chunker.push(first, 0, 1000, sink);                   // 0..3, 4..7 as views; 8, 9 wait
  chunker.push(ramp(10, 1), std::nullopt, 1000, sink);  // 8..10 wait
  chunker.push(ramp(11, 6), 11'000'000, 1000, sink);    // 8..11 copied, 12..15 view, 16 waits
  chunker.finish(sink);
  REQUIRE(chunks.size() == 5);
  CHECK(chunks[0].raw() == first.raw());
  CHECK(chunks[4].shape() == Shape{1, 1});
  float expected = 0;
  for (const auto& c : chunks) {
    for (std::int64_t i = 0; i < c.numel(); ++i) CHECK(c.at(i) == expected++);
  }
  CHECK(times == std::vector<std::int64_t>{0, 4'000'000, 8'000'000, 12'000'000, 16'000'000});
}

TEST_CASE("element names map to the Debian packages that ship them") {
  CHECK(debian_package_of("pulsesrc") == "gstreamer1.0-pulseaudio");
  CHECK(debian_package_of("ximagesrc") == "gstreamer1.0-plugins-good");
  CHECK(debian_package_of("decodebin") == "gstreamer1.0-plugins-base");
  CHECK(debian_package_of("not_an_element").empty());
  CHECK_THAT(missing_element_advice("alsasrc"), Catch::Contains("sudo apt-get install gstreamer1.0-alsa"));
}

TEST_CASE("caps text is read into the layout the nodes map to tensors") {
  const auto audio = parse_caps("audio/x-raw,format=F32LE,layout=interleaved,rate=16000,channels=2");
  CHECK(audio.kind == MediaFormat::Kind::audio);
  CHECK(audio.rate == 16000);
  CHECK(audio.channels == 2);
  const auto video = parse_caps("video/x-raw,format=RGB,width=10,height=4,framerate=5/1");
  CHECK(video.kind == MediaFormat::Kind::video);
  CHECK(video.channels == 3);
  CHECK(video.stride == 32);  // rows of 30 bytes padded to 4
  CHECK(video.fps == 5.0);
  CHECK_THROWS(parse_caps("this is not caps, !"));
}
