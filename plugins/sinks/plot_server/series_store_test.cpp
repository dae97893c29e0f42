#include "plot_server/series_store.hpp"

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <optional>

#include "export/sink_testing.hpp"

using namespace tributary::sinks;
using tributary::sinks::testing::ScratchDir;

namespace {

SeriesPoint at(std::int64_t step, double value) {
  return SeriesPoint{step, 0, 1000.0 + static_cast<double>(step), value, 0};
}

}  // namespace

TEST_CASE("series store: a decimated view keeps a one-point spike and the first and last points") {
  std::vector<std::pair<double, double>> points;
  for (int i = 0; i < 100000; ++i) points.emplace_back(i, 1.0);
  points[54321].second = 1000.0;
  points[77777].second = -5.0;
  const auto view = decimate(points, 2000);
  CHECK(view.size() <= 2000);
  CHECK(view.front() == points.front());
  CHECK(view.back() == points.back());
  auto has = [&](double x, double y) {
    return std::find(view.begin(), view.end(), std::make_pair(x, y)) != view.end();
  };
  CHECK(has(54321, 1000.0));
  CHECK(has(77777, -5.0));
  CHECK(std::is_sorted(view.begin(), view.end()));
  CHECK(decimate(points, 200000).size() == points.size());  // few enough: all of them
}

TEST_CASE("series store: points are named NODE:METRIC, numbered, listed, and selected by step or time") {
  ScratchDir dir;
  SeriesStore store(1000, dir.file("spill"));
  for (int i = 0; i < 10; ++i) store.add("train", "train/loss", at(i, 10.0 - i));
  store.add("train", "lr", at(3, 0.01));
  const auto list = store.list();
  REQUIRE(list.size() == 2);
  CHECK(list[0].name == "train:lr");
  CHECK(list[1].name == "train:train/loss");
  CHECK(list[1].node == "train");
  CHECK(list[1].metric == "train/loss");
  CHECK(list[1].length == 10);
  CHECK(list[1].first_step == 0);
  CHECK(list[1].last_step == 9);
  CHECK(list[1].last_value == 1.0);

  SeriesQuery q;
  q.from = 2;
  q.to = 4;
  auto view = store.query("train:train/loss", q);
  REQUIRE(view);
  CHECK(view->length == 10);
  CHECK(view->last_seq == 10);
  CHECK_FALSE(view->decimated);
  CHECK(view->points == std::vector<std::pair<double, double>>{{2, 8.0}, {3, 7.0}, {4, 6.0}});
  q = SeriesQuery{};
  q.x = SeriesAxis::time;
  q.from = 1008.0;
  view = store.query("train:train/loss", q);
  CHECK(view->points == std::vector<std::pair<double, double>>{{1008.0, 2.0}, {1009.0, 1.0}});
  CHECK_FALSE(store.query("train:nothing", q));
}

TEST_CASE("series store: past `history` points go to a file and ranges still cover them") {
  ScratchDir dir;
  {
    SeriesStore store(1000, dir.file("spill"));
    for (int i = 0; i < 20000; ++i) store.add("train", "train/loss", at(i, i == 123 ? 99.0 : 1.0));
    CHECK(store.points_in_memory() <= 1000);
    CHECK(store.points_spilled() >= 19000);
    SeriesQuery q;
    q.points = 100000;
    auto all = store.query("train:train/loss", q);
    REQUIRE(all);
    REQUIRE(all->points.size() == 20000);
    CHECK(all->points[123] == std::make_pair(123.0, 99.0));
    CHECK(all->points[19999].first == 19999.0);
    q.points = 400;
    auto coarse = store.query("train:train/loss", q);
    CHECK(coarse->decimated);
    CHECK(coarse->points.size() <= 400);
    CHECK(std::find(coarse->points.begin(), coarse->points.end(), std::make_pair(123.0, 99.0)) != coarse->points.end());
    q.from = 100;
    q.to = 130;
    CHECK(store.query("train:train/loss", q)->points.size() == 31);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("spill")));  // spill files go with the store
}

TEST_CASE("series store: series that spill at the same lengths each keep their own points") {
  ScratchDir dir;
  SeriesStore store(100, dir.file("spill"));
  // Five series updated together, as a trainer's per-step metrics are.
  for (int i = 0; i < 2000; ++i) {
    for (int k = 0; k < 5; ++k) store.add("train", "m" + std::to_string(k), at(i, k * 10000.0 + i));
  }
  CHECK(store.points_spilled() >= 5 * 1800);
  SeriesQuery q;
  q.points = 100000;
  for (int k = 0; k < 5; ++k) {
    INFO("series m" << k);
    auto all = store.query("train:m" + std::to_string(k), q);
    REQUIRE(all);
    REQUIRE(all->points.size() == 2000);
    int wrong = 0;
    for (int i = 0; i < 2000; ++i) wrong += all->points[i] != std::make_pair(double(i), k * 10000.0 + i) ? 1 : 0;
    CHECK(wrong == 0);
  }
}

TEST_CASE("series store: any number of spilled series share one file and one descriptor") {
  // A model's statistics are several series per parameter tensor: a descriptor each would reach
  // the usual limit of 1024 open files on a long run.
  auto open_files = [] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  ScratchDir dir;
  const std::size_t before = open_files();
  {
    SeriesStore store(16, dir.file("spill"));
    for (int i = 0; i < 100; ++i) {
      for (int k = 0; k < 1500; ++k) store.add("train", "m" + std::to_string(k), at(i, k + i * 0.001));
    }
    CHECK(store.points_spilled() >= 1500u * 80u);
    CHECK(open_files() <= before + 1);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.file("spill"))) ++files;
    CHECK(files == 1);
    SeriesQuery q;
    q.points = 100000;
    for (int k : {0, 777, 1499}) {
      INFO("series m" << k);
      auto all = store.query("train:m" + std::to_string(k), q);
      REQUIRE(all);
      REQUIRE(all->points.size() == 100);
      int wrong = 0;
      for (int i = 0; i < 100; ++i) wrong += all->points[i] != std::make_pair(double(i), k + i * 0.001) ? 1 : 0;
      CHECK(wrong == 0);
    }
  }
  CHECK(open_files() == before);
  CHECK_FALSE(std::filesystem::exists(dir.file("spill")));
}

TEST_CASE("series store: a full disk stops the spilling, keeps what was written readable and memory bounded") {
  // The file-size limit makes writes past 4000 bytes fail as on a full disk (EFBIG, with SIGXFSZ
  // ignored, as the CLI does).
  struct rlimit saved {};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 4000;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  ScratchDir dir;
  std::optional<SeriesView> view;
  std::size_t in_memory = 0;
  std::uint64_t spilled = 0;
  {
    SeriesStore store(16, dir.file("spill"));
    for (int i = 0; i < 1000; ++i) store.add("train", "loss", at(i, i));
    in_memory = store.points_in_memory();
    spilled = store.points_spilled();
    SeriesQuery q;
    q.points = 100000;
    view = store.query("train:loss", q);
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);
  CHECK(in_memory <= 16);
  // 40 bytes a point: the chunks of two points that fit in 4000 bytes, then nothing more.
  CHECK(spilled == 100);
  REQUIRE(view);
  CHECK(view->length == 1000);
  // The spilled points, then the newest ones; those in between are gone.
  REQUIRE(view->points.size() == spilled + in_memory);
  for (std::size_t i = 0; i < spilled; ++i) CHECK(view->points[i] == std::make_pair(double(i), double(i)));
  CHECK(view->points.back() == std::make_pair(999.0, 999.0));
}

TEST_CASE("series store: take_new gives each point once, the newest first when there are too many") {
  ScratchDir dir;
  SeriesStore store(1000, dir.file("spill"));
  for (int i = 0; i < 5; ++i) store.add("n", "m", at(i, i));
  auto fresh = store.take_new(100);
  REQUIRE(fresh.size() == 1);
  CHECK(fresh[0].first == "n:m");
  REQUIRE(fresh[0].second.size() == 5);
  CHECK(fresh[0].second[4].seq == 5);
  CHECK(store.take_new(100).empty());
  for (int i = 5; i < 50; ++i) store.add("n", "m", at(i, i));
  fresh = store.take_new(10);
  REQUIRE(fresh[0].second.size() == 10);
  CHECK(fresh[0].second.back().seq == 50);
}
