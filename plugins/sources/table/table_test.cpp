#include "table/table.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::sources::Table;
namespace fs = std::filesystem;

namespace {

const std::string kSklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";

// A directory of its own for each test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ =
        fs::temp_directory_path() / ("tributary-table-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<PacketPtr> read_all(const std::vector<TableEntry>& params) {
  auto h = NodeHarness::of<Table>(params);
  h.start();
  h.drain();
  h.stop();
  return h.output("out");
}

std::string error_of(const std::vector<TableEntry>& params) {
  try {
    read_all(params);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> classes_of(const Packet& p) {
  std::vector<std::string> names;
  if (const Value* v = p.attribute("classes")) {
    for (const auto& item : v->as_list()) names.push_back(item.as_string());
  }
  return names;
}

std::string gzip_bytes(const std::string& text, const ScratchDir& dir) {
  const std::string path = dir.file("make.gz");
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
  REQUIRE(gzclose(f) == Z_OK);
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string numbers_csv(int rows) {
  std::string text;
  for (int i = 0; i < rows; ++i) {
    text += std::to_string(i) + "," + std::to_string(i * 2) + "," + std::to_string(i % 3) + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("table: iris reads as 150 examples of 4 features with the class names of its header") {
  const std::string path = kSklearnData + "iris.csv";
  const auto packets = read_all({{"path", path}});
  REQUIRE(packets.size() == 150);
  std::map<std::int64_t, int> per_label;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto& p = *packets[i];
    CHECK(p.kind == PayloadKind::example);
    CHECK(p.stream == path);
    CHECK(p.sequence == i);
    CHECK(p.tensors.at(0).dtype() == DType::f32);
    CHECK(p.tensors.at(0).shape() == Shape{4});
    REQUIRE(p.label.has_value());
    ++per_label[*p.label];
    CHECK(p.attribute("row")->as_int() == static_cast<std::int64_t>(i));
    CHECK(p.attribute("epoch")->as_int() == 0);
    CHECK(classes_of(p) == std::vector<std::string>{"setosa", "versicolor", "virginica"});
  }
  CHECK(per_label == std::map<std::int64_t, int>{{0, 50}, {1, 50}, {2, 50}});
  const auto& first = packets[0]->tensors[0];
  CHECK(first.data<float>()[0] == 5.1f);
  CHECK(first.data<float>()[1] == 3.5f);
  CHECK(first.data<float>()[2] == 1.4f);
  CHECK(first.data<float>()[3] == 0.2f);
  CHECK(*packets[149]->label == 2);
}

TEST_CASE("table: the other scikit-learn sets read with their shapes") {
  const auto wine = read_all({{"path", kSklearnData + "wine_data.csv"}});
  REQUIRE(wine.size() == 178);
  CHECK(wine[0]->tensors[0].shape() == Shape{13});
  CHECK(classes_of(*wine[0]) == std::vector<std::string>{"class_0", "class_1", "class_2"});

  const auto cancer = read_all({{"path", kSklearnData + "breast_cancer.csv"}});
  REQUIRE(cancer.size() == 569);
  CHECK(cancer[0]->tensors[0].shape() == Shape{30});
  CHECK(classes_of(*cancer[0]) == std::vector<std::string>{"malignant", "benign"});
}

TEST_CASE("table: digits.csv.gz decompresses to 1797 examples of 64 features, labels 0..9") {
  const auto packets = read_all({{"path", kSklearnData + "digits.csv.gz"}});
  REQUIRE(packets.size() == 1797);
  std::set<std::int64_t> labels;
  for (const auto& p : packets) {
    REQUIRE(p->tensors[0].shape() == Shape{64});
    labels.insert(*p->label);
    CHECK(p->attribute("classes") == nullptr);
  }
  CHECK(labels == std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(packets[0]->tensors[0].data<float>()[2] == 5.0f);
  CHECK(*packets[0]->label == 0);
  CHECK(*packets[1]->label == 1);
}

TEST_CASE("table: a header of names picks the label by name, and class names become indices in order of appearance") {
  ScratchDir dir;
  const auto path = dir.write("animals.csv",
                              "weight,\"height, cm\",kind\r\n"
                              "4.5,30,cat\r\n"
                              "30,60,dog\r\n"
                              "\r\n"
                              "5,28,cat\r\n"
                              "0.02,5,\"mouse\"\r\n");
  auto packets = read_all({{"path", path}, {"label_column", "kind"}});
  REQUIRE(packets.size() == 4);
  std::vector<std::int64_t> labels;
  for (const auto& p : packets) labels.push_back(*p->label);
  CHECK(labels == std::vector<std::int64_t>{0, 1, 0, 2});
  CHECK(classes_of(*packets[0]) == std::vector<std::string>{"cat", "dog", "mouse"});
  CHECK(packets[1]->tensors[0].data<float>()[0] == 30.0f);
  CHECK(packets[1]->tensors[0].data<float>()[1] == 60.0f);

  // The label by index, here the first column; the rest are features.
  packets = read_all({{"path", dir.write("ids.csv", "id,a,b\n7,1,2\n9,3,4\n")}, {"label_column", "0"}});
  REQUIRE(packets.size() == 2);
  CHECK(*packets[1]->label == 9);
  CHECK(packets[1]->tensors[0].data<float>()[0] == 3.0f);

  // Unlabelled rows keep every column as a feature.
  packets =
      read_all({{"path", dir.write("plain.csv", "1;2;3\n4;5;6\n")}, {"label_column", "none"}, {"delimiter", ";"}});
  REQUIRE(packets.size() == 2);
  CHECK_FALSE(packets[0]->label.has_value());
  CHECK(packets[0]->tensors[0].shape() == Shape{3});
  CHECK(packets[1]->tensors[0].data<float>()[2] == 6.0f);
}

TEST_CASE("table: header detection can be overridden") {
  ScratchDir dir;
  const auto path = dir.write("numbers.csv", "1,2,0\n3,4,1\n");
  CHECK(read_all({{"path", path}}).size() == 2);
  CHECK(read_all({{"path", path}, {"header", "yes"}}).size() == 1);
  CHECK(error_of({{"path", path}, {"header", "no"}, {"label_column", "kind"}}) != "(no error)");
}

TEST_CASE("table: errors name the file, the line and what is wrong") {
  ScratchDir dir;
  const auto ragged = dir.write("ragged.csv", "a,b,label\n1,2,0\n3,1\n");
  CHECK(error_of({{"path", ragged}}) == ragged + ":3: expected 3 columns, found 2");

  const auto text = dir.write("text.csv", "a,b,label\n1,2,0\n3,abc,1\n");
  CHECK(error_of({{"path", text}}) == text + ":3: column 1 (\"b\") is not a number: \"abc\"");

  const auto unnamed = dir.write("unnamed.csv", "1,2,0\n3,x4,1\n");
  CHECK(error_of({{"path", unnamed}, {"header", "no"}}) == unnamed + ":2: column 1 is not a number: \"x4\"");

  const auto fractional = dir.write("fractional.csv", "1,2,0\n3,4,1.5\n");
  CHECK(error_of({{"path", fractional}}) ==
        fractional +
            ":2: the label in column 2 is \"1.5\", not a whole number: labels must be integers or class names");

  const auto missing = dir.file("no-such-file.csv");
  CHECK(error_of({{"path", missing}}) == "cannot open " + missing + ": No such file or directory");

  const auto empty = dir.write("empty.csv", "\n\n");
  CHECK(error_of({{"path", empty}}) == empty + ": the file holds no rows");

  CHECK(error_of({{"path", ragged}, {"label_column", "7"}}) ==
        ragged + ": label_column 7 is out of range: rows have 3 columns (0..2)");
  CHECK(error_of({{"path", ragged}, {"label_column", "kind"}}) ==
        ragged + ": label_column \"kind\" is not a column name; the header has \"a\", \"b\", \"label\"");
}

TEST_CASE("table: a truncated or corrupted gzip file is an error naming the file and zlib's reason") {
  ScratchDir dir;
  const std::string gz = gzip_bytes(numbers_csv(2000), dir);
  REQUIRE(gz.size() > 200);

  const auto truncated = dir.write("truncated.csv.gz", gz.substr(0, gz.size() / 2));
  const auto truncated_error = error_of({{"path", truncated}});
  CHECK_THAT(truncated_error, Catch::Contains(truncated) && Catch::Contains("unexpected end of file"));

  std::string damaged = gz;
  for (std::size_t i = gz.size() / 3; i < gz.size() / 3 + 16; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
  const auto corrupted = dir.write("corrupted.csv.gz", damaged);
  const auto corrupted_error = error_of({{"path", corrupted}});
  CHECK_THAT(corrupted_error, Catch::StartsWith("reading " + corrupted + " failed: "));

  std::string headless = gz;
  headless[0] = 'x';
  const auto not_gzip = dir.write("headless.csv.gz", headless);
  CHECK_THAT(error_of({{"path", not_gzip}}), Catch::Contains(not_gzip) && Catch::Contains("not gzip data"));

  // The intact file reads.
  CHECK(read_all({{"path", dir.write("intact.csv.gz", gz)}}).size() == 2000);
}

TEST_CASE("table: splits follow the fractions exactly and are fixed by the seed") {
  const std::string path = kSklearnData + "iris.csv";
  auto splits_of = [](const std::vector<PacketPtr>& packets) {
    std::vector<Split> s;
    for (const auto& p : packets) s.push_back(p->split);
    return s;
  };
  const auto a = splits_of(read_all({{"path", path}, {"seed", 1}}));
  const auto b = splits_of(read_all({{"path", path}, {"seed", 1}}));
  const auto c = splits_of(read_all({{"path", path}, {"seed", 2}}));
  CHECK(a == b);
  CHECK(a != c);
  CHECK(std::count(a.begin(), a.end(), Split::train) == 120);
  CHECK(std::count(a.begin(), a.end(), Split::val) == 15);
  CHECK(std::count(a.begin(), a.end(), Split::test) == 15);

  const auto d = splits_of(read_all({{"path", path}, {"split", Value(std::vector<Value>{0.5, 0.3, 0.2})}}));
  CHECK(std::count(d.begin(), d.end(), Split::train) == 75);
  CHECK(std::count(d.begin(), d.end(), Split::val) == 45);
  CHECK(std::count(d.begin(), d.end(), Split::test) == 30);

  CHECK_THROWS_AS(NodeHarness::of<Table>({{"path", path}, {"split", Value(std::vector<Value>{0.5, 0.3})}}), ParamError);
}

TEST_CASE("table: epochs repeat the rows, reshuffled deterministically in each epoch when shuffle is on") {
  const std::string path = kSklearnData + "iris.csv";
  const auto packets = read_all({{"path", path}, {"shuffle", true}, {"epochs", 3}, {"seed", 5}});
  REQUIRE(packets.size() == 450);
  std::vector<std::vector<std::int64_t>> orders(3);
  std::map<std::int64_t, Split> split_of_row;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto& p = *packets[i];
    CHECK(p.sequence == i);
    const auto epoch = p.attribute("epoch")->as_int();
    REQUIRE(epoch == static_cast<std::int64_t>(i / 150));
    const auto row = p.attribute("row")->as_int();
    orders[static_cast<std::size_t>(epoch)].push_back(row);
    // A row keeps its split in every epoch.
    auto [it, added] = split_of_row.emplace(row, p.split);
    CHECK(it->second == p.split);
  }
  std::vector<std::int64_t> identity(150);
  for (std::size_t i = 0; i < 150; ++i) identity[i] = static_cast<std::int64_t>(i);
  for (auto order : orders) {
    CHECK(order != identity);
    std::sort(order.begin(), order.end());
    CHECK(order == identity);
  }
  CHECK(orders[0] != orders[1]);
  CHECK(orders[1] != orders[2]);

  const auto again = read_all({{"path", path}, {"shuffle", true}, {"epochs", 3}, {"seed", 5}});
  REQUIRE(again.size() == 450);
  for (std::size_t i = 0; i < 450; ++i)
    REQUIRE(again[i]->attribute("row")->as_int() == packets[i]->attribute("row")->as_int());

  const auto ordered = read_all({{"path", path}, {"epochs", 2}});
  REQUIRE(ordered.size() == 300);
  CHECK(ordered[150]->attribute("row")->as_int() == 0);
  CHECK(ordered[299]->attribute("row")->as_int() == 149);
}

TEST_CASE("table: limit reads only the first rows") {
  const auto packets = read_all({{"path", kSklearnData + "digits.csv.gz"}, {"limit", 10}});
  REQUIRE(packets.size() == 10);
  CHECK(packets[9]->attribute("row")->as_int() == 9);
}

TEST_CASE("table: parameters that cannot work are refused before the run") {
  CHECK_THROWS_AS(NodeHarness::of<Table>({}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<Table>({{"path", "x.csv"}, {"delimiter", ";;"}}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<Table>({{"path", "x.csv"}, {"header", "no"}, {"label_column", "kind"}}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<Table>({{"path", "x.csv"}, {"epochs", 0}}), ParamError);
}

TEST_CASE("table: NaN and infinity are refused at their line and column, or their rows skipped on request") {
  ScratchDir dir;
  const auto nan = dir.write("nan.csv", "a,b,label\n1,2,0\n3,nan,1\n5,6,0\n");
  CHECK(error_of({{"path", nan}}) ==
        nan +
            ":3: column 1 (\"b\") is \"nan\", not a finite number: fix the file, or set non_finite = \"skip\" to "
            "leave such rows out");
  const auto inf = dir.write("inf.csv", "1,2,0\n-inf,4,1\n");
  CHECK_THAT(error_of({{"path", inf}}), Catch::StartsWith(inf + ":2: column 0 is \"-inf\", not a finite number"));
  const auto huge = dir.write("huge.csv", "1,2,0\n1e300,4,1\n");
  CHECK_THAT(error_of({{"path", huge}}), Catch::StartsWith(huge + ":2: column 0 is \"1e300\", beyond the range"));

  const auto mixed = dir.write("mixed.csv", "label,a,b\n0,1,2\n1,3,nan\n2,inf,6\n0,7,8\n");
  auto h = NodeHarness::of<Table>({{"path", mixed}, {"label_column", "label"}, {"non_finite", "skip"}});
  h.start();
  h.drain();
  h.stop();
  const auto& out = h.output("out");
  REQUIRE(out.size() == 2);
  CHECK(out[0]->tensors[0].at(1) == 2.0);
  CHECK(out[1]->tensors[0].at(0) == 7.0);
  CHECK(*out[1]->label == 0);
  bool counted = false;
  for (const auto& record : h.logs()) counted = counted || record.message.find("skipped 2 rows") != std::string::npos;
  CHECK(counted);
}

TEST_CASE("table: each pass ends with split_end markers for its splits, then epoch_end, after its last row") {
  const std::string path = kSklearnData + "iris.csv";
  auto h = NodeHarness::of<Table>({{"path", path}, {"shuffle", true}, {"epochs", 2}, {"seed", 5}});
  h.start();
  for (int i = 0; i < 149; ++i) REQUIRE(h.produce());
  CHECK(h.markers("out").empty());
  REQUIRE(h.produce());  // the last row of the first pass
  const std::vector<Marker> first = h.markers("out");
  REQUIRE(first.size() == 4);
  const Split order[] = {Split::train, Split::val, Split::test};
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(first[k].kind == MarkerKind::split_end);
    CHECK(first[k].split == order[k]);
    CHECK(first[k].epoch == 0);
    CHECK(first[k].stream == path);
  }
  CHECK(first[3].kind == MarkerKind::epoch_end);
  CHECK(first[3].epoch == 0);
  CHECK(h.output("out").back()->attribute("epochs")->as_int() == 2);

  h.drain();
  const std::vector<Marker> all = h.markers("out");
  REQUIRE(all.size() == 8);
  CHECK(all[7].kind == MarkerKind::epoch_end);
  CHECK(all[7].epoch == 1);
  CHECK(h.output("out").size() == 300);

  // Only the splits the rows hold get a split_end.
  auto whole = NodeHarness::of<Table>({{"path", path}, {"split", std::vector<Value>{1.0, 0.0, 0.0}}});
  whole.start();
  whole.drain();
  REQUIRE(whole.markers("out").size() == 2);
  CHECK(whole.markers("out")[0].split == Split::train);
  CHECK(whole.markers("out")[1].kind == MarkerKind::epoch_end);
}
