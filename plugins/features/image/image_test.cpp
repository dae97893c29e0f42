#include "image/image.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>

#include "tests/reference.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::features::testing;
using tributary::features::ImageFrames;

namespace {
PacketPtr frame_packet(const ReferenceImage& image, const char* format = "rgb") {
  auto p = make_packet(PayloadKind::video);
  p->tensors.push_back(Tensor::from_vector(image.pixels, {image.height, image.width, image.channels}));
  p->set_attribute("format", format);
  p->timestamp_ns = 42;
  return p;
}
}  // namespace

TEST_CASE("image matches torch's bilinear resize, crop, grayscale and normalisation") {
  for (const auto& c : references().cases) {
    if (c.node != "image") continue;
    INFO("case " << c.id);
    auto h = NodeHarness::of<ImageFrames>(c.params);
    h.start();
    h.push("in", frame_packet(references().images.at(c.signal)));
    REQUIRE(h.output().size() == 1);
    const auto& out = *h.output()[0];
    CHECK(out.kind == PayloadKind::features);
    CHECK(out.timestamp_ns == 42);
    REQUIRE(to_string(out.tensors[0].shape()) == to_string(c.shape));
    const auto d = compare(values_of(out.tensors[0]), c.expected);
    INFO("max |ours - torch| = " << d.absolute << ", relative " << d.relative);
    CHECK(d.relative <= 1e-5);
    if (std::getenv("TRIBUTARY_FEATURES_REPORT") != nullptr) {
      std::printf("%-26s image  shape %-12s max|diff|/max|ref| %.2e\n", c.id.c_str(),
                  to_string(out.tensors[0].shape()).c_str(), d.relative);
    }
  }
}

TEST_CASE("image reads BGRx frames in their own channel order") {
  const auto& rgb = references().images.at("frame");
  ReferenceImage bgrx;
  bgrx.height = rgb.height;
  bgrx.width = rgb.width;
  bgrx.channels = 4;
  for (std::size_t i = 0; i < rgb.pixels.size(); i += 3) {
    bgrx.pixels.insert(bgrx.pixels.end(), {rgb.pixels[i + 2], rgb.pixels[i + 1], rgb.pixels[i], 0});
  }
  auto a = NodeHarness::of<ImageFrames>({{"width", 30}, {"height", 20}});
  auto b = NodeHarness::of<ImageFrames>({{"width", 30}, {"height", 20}});
  a.start();
  b.start();
  a.push("in", frame_packet(rgb));
  b.push("in", frame_packet(bgrx, "BGRx"));
  CHECK(values_of(a.output()[0]->tensors[0]) == values_of(b.output()[0]->tensors[0]));
}

TEST_CASE("image refuses a malformed crop, half a size, a crop outside the frame") {
  try {
    NodeHarness::of<ImageFrames>({{"crop", std::vector<Value>{1, 2, 3}}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "crop");
  }
  try {
    NodeHarness::of<ImageFrames>({{"width", 10}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "height");
  }
  auto h = NodeHarness::of<ImageFrames>({{"crop", std::vector<Value>{60, 0, 10, 10}}});
  h.start();
  CHECK_THROWS_WITH(h.push("in", frame_packet(references().images.at("frame"))),
                    Catch::Contains("image") && Catch::Contains("outside the 64x48 frame"));
}
