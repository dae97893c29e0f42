#include "audio_dataset/wav_header.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "testing/real_parts.hpp"

using namespace tributary::sources;
using namespace tributary::sources::testing;

namespace {

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string le16(std::uint16_t v) { return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
std::string le32(std::uint32_t v) {
  return le16(static_cast<std::uint16_t>(v & 0xffff)) + le16(static_cast<std::uint16_t>(v >> 16));
}

// A chunk as a RIFF writer lays it out: id, size, body, a padding byte after an odd body.
std::string chunk(const std::string& id, const std::string& body, std::uint32_t size) {
  return id + le32(size) + body + (body.size() % 2 == 1 ? std::string(1, '\0') : std::string());
}
std::string chunk(const std::string& id, const std::string& body) {
  return chunk(id, body, static_cast<std::uint32_t>(body.size()));
}

std::string pcm_fmt(std::uint16_t tag, int channels, int rate, int bits) {
  const int align = channels * bits / 8;
  return chunk("fmt ", le16(tag) + le16(static_cast<std::uint16_t>(channels)) + le32(static_cast<std::uint32_t>(rate)) +
                           le32(static_cast<std::uint32_t>(rate * align)) + le16(static_cast<std::uint16_t>(align)) +
                           le16(static_cast<std::uint16_t>(bits)));
}

std::string riff(const std::string& chunks) {
  return "RIFF" + le32(static_cast<std::uint32_t>(4 + chunks.size())) + "WAVE" + chunks;
}

std::string refused(const std::string& bytes) {
  const WavHeader h = parse_wav_header(bytes);
  return h.format ? "(accepted)" : h.refused;
}

}  // namespace

TEST_CASE("wav_header reads the sample format and the data of every PCM and float WAV file sox writes") {
  ScratchDir dir;
  const std::string word = spoken_wav(dir, "seven", "word.wav");
  struct Case {
    const char* options;
    WavSample sample;
    int channels;
    int rate;
    int bytes;           // per sample
    std::uint32_t mask;  // sox writes WAVE_FORMAT_EXTENSIBLE, with a mask, past 16 bits or 2 channels
  };
  const Case cases[] = {
      {"-e signed -b 16 -r 16000", WavSample::s16, 1, 16000, 2, 0},
      {"-e signed -b 24 -r 16000", WavSample::s24, 1, 16000, 3, 0x4},
      {"-e signed -b 32 -r 16000", WavSample::s32, 1, 16000, 4, 0x4},
      {"-e unsigned -b 8 -r 16000", WavSample::u8, 1, 16000, 1, 0},
      {"-e float -b 32 -r 16000", WavSample::f32, 1, 16000, 4, 0},
      {"-e float -b 64 -r 16000", WavSample::f64, 1, 16000, 8, 0},
      {"-e signed -b 16 -r 44100 -c 2", WavSample::s16, 2, 44100, 2, 0},
      {"-e signed -b 24 -r 48000 -c 2", WavSample::s24, 2, 48000, 3, 0x3},
      {"-e signed -b 16 -r 16000 -c 4", WavSample::s16, 4, 16000, 2, 0x33},
      {"-e signed -b 24 -r 22050 -c 6", WavSample::s24, 6, 22050, 3, 0x3f},
  };
  int n = 0;
  for (const Case& c : cases) {
    INFO("sox " << c.options);
    const std::string path = sox_convert(word, dir.file("f" + std::to_string(n++) + ".wav"), c.options);
    const std::string bytes = bytes_of(path);
    const WavHeader h = parse_wav_header(bytes);
    INFO(h.refused);
    REQUIRE(h.format);
    const WavFormat& f = *h.format;
    CHECK(f.sample == c.sample);
    CHECK(f.channels == c.channels);
    CHECK(f.rate == c.rate);
    CHECK(f.block_align == c.channels * c.bytes);
    CHECK(f.channel_mask == c.mask);
    const std::string soxi = require_program("soxi", "sox");
    CHECK(f.frames() == std::stoull(shell(quote(soxi) + " -s " + quote(path))));
    CHECK(f.data_offset + f.data_bytes <= bytes.size());
    // The samples start where the header says: the same as after sox's own header.
    CHECK(bytes.compare(f.data_offset - 8, 4, "data") == 0);
  }
}

TEST_CASE("wav_header skips other chunks and their padding, and reads streamed and cut files to their end") {
  const std::string samples(400, '\x11');  // 200 frames of 16-bit mono
  const std::string fmt = pcm_fmt(1, 1, 8000, 16);
  SECTION("a LIST chunk of odd size before the data, and a fact chunk") {
    const std::string bytes = riff(chunk("LIST", "abc") + fmt + chunk("fact", le32(200)) + chunk("data", samples));
    const WavHeader h = parse_wav_header(bytes);
    REQUIRE(h.format);
    CHECK(h.format->data_offset == bytes.size() - samples.size());
    CHECK(h.format->frames() == 200);
  }
  SECTION("a data size of 0 or 0xFFFFFFFF, as a streaming writer leaves it: to the end of the file") {
    for (std::uint32_t size : {0u, 0xFFFFFFFFu}) {
      const WavHeader h = parse_wav_header(riff(fmt + chunk("data", samples, size)));
      REQUIRE(h.format);
      CHECK(h.format->frames() == 200);
    }
  }
  SECTION("a data chunk cut short, in the middle of a frame: the whole frames there are") {
    const std::string whole = riff(fmt + chunk("data", samples));
    const WavHeader h = parse_wav_header(whole.substr(0, whole.size() - 101));
    REQUIRE(h.format);
    CHECK(h.format->frames() == 149);
  }
  SECTION("a data chunk followed by others: only the data chunk's own bytes") {
    const WavHeader h = parse_wav_header(riff(fmt + chunk("data", samples) + chunk("LIST", "INFOtext")));
    REQUIRE(h.format);
    CHECK(h.format->frames() == 200);
  }
}

TEST_CASE("wav_header refuses compressed encodings, saying which, so decodebin can have them") {
  ScratchDir dir;
  const std::string word = spoken_wav(dir, "seven", "word.wav");
  const std::pair<const char*, const char*> cases[] = {
      {"-e u-law", "mu-law"},
      {"-e a-law", "A-law"},
      {"-e ima-adpcm", "IMA ADPCM"},
      {"-e ms-adpcm", "Microsoft ADPCM"},
      {"-e gsm-full-rate -r 8000", "GSM 6.10"},
  };
  int n = 0;
  for (const auto& [options, name] : cases) {
    INFO("sox " << options);
    const std::string path = sox_convert(word, dir.file("c" + std::to_string(n++) + ".wav"), options);
    CHECK_THAT(refused(bytes_of(path)), Catch::Contains(name) && Catch::Contains("not PCM or IEEE float"));
  }
  // PCM of a sample size GStreamer's converter does not take as such.
  CHECK_THAT(refused(riff(pcm_fmt(1, 1, 8000, 12) + chunk("data", std::string(30, '\0')))),
             Catch::Contains("PCM samples of 12 bits"));
}

TEST_CASE("wav_header refuses a broken header with the reason") {
  ScratchDir dir;
  const std::string good =
      bytes_of(sox_convert(spoken_wav(dir, "seven", "word.wav"), dir.file("good.wav"), "-r 16000"));
  const std::string fmt = pcm_fmt(1, 1, 8000, 16);
  CHECK_THAT(refused(""), Catch::Contains("0 bytes long, shorter than a RIFF header"));
  CHECK_THAT(refused(good.substr(0, 8)), Catch::Contains("shorter than a RIFF header"));
  CHECK_THAT(refused(good.substr(0, 30)), Catch::Contains("the fmt chunk runs past the end of the file"));
  CHECK_THAT(refused(good.substr(0, 36)), Catch::Contains("no data chunk"));
  CHECK_THAT(refused("RIFX" + good.substr(4)), Catch::Contains("not a RIFF file: it starts with 'RIFX'"));
  CHECK_THAT(refused("RIFF, but not really a wave file at all"),
             Catch::Contains("a RIFF file of form 't no', not WAVE"));
  CHECK_THAT(refused(riff(chunk("LIST", "INFO"))), Catch::Contains("no fmt chunk"));
  CHECK_THAT(refused(riff(chunk("data", "abcd") + fmt)), Catch::Contains("the data chunk comes before the fmt chunk"));
  CHECK_THAT(refused(riff(chunk("fmt ", std::string(14, '\1')) + chunk("data", "ab"))),
             Catch::Contains("the fmt chunk is 14 bytes long, shorter than the 16 of PCM"));
  CHECK_THAT(refused(riff(pcm_fmt(1, 0, 8000, 16) + chunk("data", "ab"))), Catch::Contains("0 channels"));
  CHECK_THAT(refused(riff(pcm_fmt(1, 1, 0, 16) + chunk("data", "ab"))), Catch::Contains("a sample rate of 0 Hz"));
  // A block align that does not match the channels and sample size.
  std::string bad_align = fmt;
  bad_align[8 + 12] = 4;
  CHECK_THAT(refused(riff(bad_align + chunk("data", "abcd"))), Catch::Contains("a block align of 4 bytes"));
  // WAVE_FORMAT_EXTENSIBLE: a foreign sub-format, and samples padded in a larger container.
  std::string ext = chunk("fmt ", le16(0xFFFE) + le16(1) + le32(8000) + le32(32000) + le16(4) + le16(32) + le16(22) +
                                      le16(24) + le32(4) + le16(1) +
                                      std::string("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 14));
  CHECK_THAT(refused(riff(ext + chunk("data", "abcd"))), Catch::Contains("24 valid bits in samples of 32 bits"));
  ext[8 + 24] = 2;  // Microsoft ADPCM inside
  CHECK_THAT(refused(riff(ext + chunk("data", "abcd"))),
             Catch::Contains("WAVE_FORMAT_EXTENSIBLE holding format tag 0x0002"));
  ext[8 + 30] = 0x11;  // not a KSDATAFORMAT_SUBTYPE GUID
  CHECK_THAT(refused(riff(ext + chunk("data", "abcd"))), Catch::Contains("sub-format GUID"));
  CHECK_THAT(refused(riff(pcm_fmt(1, 1, 999999937, 16) + chunk("data", "ab"))),
             Catch::Contains("a sample rate of 999999937 Hz"));
}

TEST_CASE("wav_header leaves channels it cannot place as GStreamer would to decodebin") {
  // WAV's channel mask and GStreamer's agree on the first nine positions only, and wavparse
  // orders channels without a mask its own way: those files are not read here.
  ScratchDir dir;
  const std::string word = spoken_wav(dir, "seven", "word.wav");
  const std::string plain = sox_convert(word, dir.file("plain.wav"), "-e float -b 32 -r 22050 -c 6");
  CHECK_THAT(refused(bytes_of(plain)), Catch::Contains("6 channels without a channel mask"));
  auto extensible = [](int channels, std::uint32_t mask) {
    const int align = channels * 2;
    return riff(chunk("fmt ", le16(0xFFFE) + le16(static_cast<std::uint16_t>(channels)) + le32(8000) +
                                  le32(static_cast<std::uint32_t>(8000 * align)) +
                                  le16(static_cast<std::uint16_t>(align)) + le16(16) + le16(22) + le16(16) +
                                  le32(mask) + le16(1) +
                                  std::string("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 14)) +
                chunk("data", std::string(static_cast<std::size_t>(align), '\0')));
  };
  CHECK(refused(extensible(6, 0x3F)) == "(accepted)");  // 5.1: FL FR FC LFE BL BR
  CHECK_THAT(
      refused(extensible(6, 0x60F)),  // 5.1 (side): SL SR are WAV's bits 9 and 10
      Catch::Contains("6 channels with the channel mask 0x60F, whose positions are not all among the first nine"));
  CHECK_THAT(refused(extensible(2, 0x7)), Catch::Contains("2 channels with the channel mask 0x7"));  // 3 positions
  CHECK_THAT(refused(extensible(4, 0)), Catch::Contains("4 channels without a channel mask"));
  CHECK(refused(extensible(2, 0)) == "(accepted)");  // stereo needs no mask
}
