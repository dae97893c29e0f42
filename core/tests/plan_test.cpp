// Validation against node declarations: every check happens before anything starts.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "test_nodes.hpp"

using namespace tributary;
using namespace tributary::core;

namespace {
std::vector<Diagnostic> plan_errors(const std::string& text, std::vector<std::string> overrides = {}) {
  try {
    testnodes::Harness h(text, std::move(overrides));
  } catch (const PipelineError& e) {
    return e.diagnostics();
  }
  return {};
}

// The parameters of each node of `text`, planned as read from `file`, with SET_HERE=`set_here` in
// the environment and `overrides` given with --set.
std::map<std::string, Params> params_planned(const std::string& text, const std::string& file,
                                             const std::string& set_here, std::vector<std::string> overrides) {
  PluginRegistry registry;
  testnodes::register_all(registry);
  Logging logging(LogSettings{LogLevel::warn, {}, false});
  LoadOptions options;
  options.environment = [set_here](const std::string& name) -> std::optional<std::string> {
    if (name == "SET_HERE") return set_here;
    return std::nullopt;
  };
  options.overrides = std::move(overrides);
  auto plan = build_plan(parse_pipeline(text, file, options), registry, RunInfo{"test", "."}, logging);
  std::map<std::string, Params> params;
  for (const auto& n : plan.nodes) params.emplace(n.name, n.params);
  return params;
}
}  // namespace

TEST_CASE("an unknown plugin gets the nearest known type and where the registry looked") {
  auto e = plan_errors("[pipeline]\nlinks = []\n[nodes.a]\nplugin = \"countr\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "unknown plugin 'countr' for node 'a'");
  CHECK(e[0].where.to_string() == "test.toml:4:10");
  CHECK_THAT(e[0].hint, Catch::StartsWith("did you mean 'counter'?") && Catch::Contains("looked in"));
}

TEST_CASE("parameters are checked against their declarations, at the value, or at the key when it is unknown") {
  auto e = plan_errors(
      "[nodes.a]\nplugin = \"counter\"\ncont = 3\n[nodes.b]\nplugin = \"counter\"\ncount = -2\n"
      "[nodes.c]\nplugin = \"counter\"\nlive = \"yes\"\n");
  REQUIRE(e.size() == 3);
  CHECK(e[0].where.to_string() == "test.toml:3:1");  // an unknown key: at the key
  CHECK(e[0].hint == "did you mean 'count'?");
  CHECK(e[1].where.to_string() == "test.toml:6:9");
  CHECK(e[1].message == "node 'b' (counter): 'count' is -2, out of range: it must be at least 0");
  CHECK(e[2].message == "node 'c' (counter): 'live' must be a boolean, got a string (\"yes\")");
}

TEST_CASE("links must name known nodes and ports of compatible kinds") {
  const std::string nodes = "[nodes.src]\nplugin = \"counter\"\n[nodes.sink]\nplugin = \"collect\"\n";
  auto unknown_node = plan_errors("[pipeline]\nlinks = [\"src -> snk\"]\n" + nodes);
  REQUIRE(unknown_node.size() >= 1);
  CHECK(unknown_node[0].message == "link \"src -> snk\" names no node 'snk'");
  CHECK(unknown_node[0].hint == "did you mean 'sink'?");

  auto unknown_port = plan_errors("[pipeline]\nlinks = [\"src.outt -> sink\"]\n" + nodes);
  REQUIRE(unknown_port.size() == 1);
  CHECK(unknown_port[0].message == "node 'src' (counter) has no output port 'outt'");
  CHECK_THAT(unknown_port[0].hint, Catch::StartsWith("did you mean 'out'?"));
  CHECK(unknown_port[0].where.to_string() == "test.toml:2:10");

  auto bus_port = plan_errors("[pipeline]\nlinks = [\"src -> sink.telemetry\"]\n" + nodes);
  REQUIRE(bus_port.size() == 1);
  CHECK_THAT(bus_port[0].message, Catch::Contains("is fed by the runtime's telemetry bus"));
}

TEST_CASE("every input fed by links has at least one") {
  auto e =
      plan_errors("[pipeline]\nlinks = []\n[nodes.src]\nplugin = \"counter\"\n[nodes.sink]\nplugin = \"collect\"\n");
  REQUIRE(e.size() == 2);  // and the source's output goes nowhere
  auto unfed = std::find_if(e.begin(), e.end(), [](const Diagnostic& d) { return d.where.line == 5; });
  REQUIRE(unfed != e.end());
  CHECK(unfed->message == "input 'in' of node 'sink' (collect) is not fed by any link");
}

TEST_CASE("cycles are refused with the path around them") {
  auto e = plan_errors(R"([pipeline]
links = ["src -> a", "a -> b", "b -> a.side", "b -> sink"]
[nodes.src]
plugin = "counter"
[nodes.a]
plugin = "relay"
[nodes.b]
plugin = "relay"
[nodes.sink]
plugin = "collect"
)");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "the links form a cycle: a -> b -> a");
}

TEST_CASE("a valid pipeline is ordered producers first, with default ports and the pipeline's capacity") {
  testnodes::Harness h(
      "[pipeline]\nqueue_capacity = 7\nlinks = [\"r -> sink\", \"src -> r\"]\n"
      "[nodes.sink]\nplugin = \"collect\"\n[nodes.r]\nplugin = \"relay\"\n[nodes.src]\nplugin = \"counter\"\n");
  std::vector<std::string> order;
  for (auto i : h.plan.order) order.push_back(h.plan.nodes[i].name);
  CHECK(order == std::vector<std::string>{"src", "r", "sink"});
  CHECK(h.plan.links[0].capacity == 7);
  CHECK(h.plan.links[0].policy == QueuePolicy::block);
}

TEST_CASE("a value that is one ${VAR} takes the declared type, and other text stays text") {
  setenv("TRIBUTARY_TEST_COUNT", "12", 1);
  testnodes::Harness h(
      "[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "count = \"${TRIBUTARY_TEST_COUNT}\"\nlive = \"${TRIBUTARY_TEST_LIVE:-false}\"\n"
      "[nodes.sink]\nplugin = \"collect\"\n");
  const auto& src =
      *std::find_if(h.plan.nodes.begin(), h.plan.nodes.end(), [](const NodePlan& n) { return n.name == "src"; });
  CHECK(src.params.get<std::int64_t>("count") == 12);
  CHECK_FALSE(src.params.get<bool>("live"));
  setenv("TRIBUTARY_TEST_COUNT", "twelve", 1);
  auto e = plan_errors("[nodes.src]\nplugin = \"counter\"\ncount = \"${TRIBUTARY_TEST_COUNT}\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "node 'src' (counter): 'count' must be an integer, got a string (\"twelve\")");
  auto partial = plan_errors("[nodes.src]\nplugin = \"counter\"\ncount = \"1${TRIBUTARY_TEST_COUNT}\"\n");
  CHECK(partial.size() == 1);
}

TEST_CASE("a link given twice is refused, pointing at the first") {
  auto e = plan_errors(
      "[pipeline]\nlinks = [\"src -> sink\",\n  \"src.out -> sink.in\"]\n"
      "[nodes.src]\nplugin = \"counter\"\n[nodes.sink]\nplugin = \"collect\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "link \"src.out -> sink.in\" repeats the link at test.toml:2:10");
  CHECK(e[0].where.line == 3);
}

TEST_CASE("an override of a string parameter keeps its text even when it reads as a number") {
  testnodes::Harness h(
      "[pipeline]\nlinks = [\"src -> r\", \"r -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "[nodes.r]\nplugin = \"relay\"\n[nodes.sink]\nplugin = \"collect\"\n",
      {"r.note=42"});
  const auto& r =
      *std::find_if(h.plan.nodes.begin(), h.plan.nodes.end(), [](const NodePlan& n) { return n.name == "r"; });
  CHECK(r.params.get<std::string>("note") == "42");
}

TEST_CASE("a node that can receive nothing is refused at its table") {
  const std::string fed =
      "[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "[nodes.sink]\nplugin = \"collect\"\n";
  auto e = plan_errors(fed + "[nodes.tap]\nplugin = \"tap\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message ==
        "node 'tap' (tap) can receive nothing: no link leads to it and its bus inputs (telemetry) are off");
  CHECK(e[0].where.to_string() == "test.toml:7:1");
  CHECK_THAT(e[0].hint, Catch::Contains("\"SOURCE -> tap\"") && Catch::Contains("bus inputs"));
  // Its bus input on, or a link into it, and it has something to do.
  CHECK(plan_errors(fed + "[nodes.tap]\nplugin = \"tap\"\ntelemetry = true\n").empty());
  CHECK(plan_errors("[pipeline]\nlinks = [\"src -> tap\"]\n[nodes.src]\nplugin = \"counter\"\n"
                    "[nodes.tap]\nplugin = \"tap\"\n")
            .empty());
}

TEST_CASE("a source whose output goes nowhere is refused at its table") {
  auto e = plan_errors(
      "[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "[nodes.sink]\nplugin = \"collect\"\n[nodes.idle]\nplugin = \"counter\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "source 'idle' (counter) sends its output nowhere: no link starts at it");
  CHECK(e[0].where.to_string() == "test.toml:7:1");
  CHECK_THAT(e[0].hint, Catch::Contains("\"idle -> NODE\""));
}

TEST_CASE("several errors come sorted by line, whichever check found them") {
  auto e = plan_errors("[pipeline]\nlinks = [\"src -> snk\"]\n[nodes.src]\nplugin = \"counter\"\n  cont = 3\n");
  REQUIRE(e.size() == 2);
  CHECK(e[0].where.to_string() == "test.toml:2:10");
  CHECK(e[0].message == "link \"src -> snk\" names no node 'snk'");
  CHECK(e[1].where.to_string() == "test.toml:5:3");
  CHECK(e[1].message == "node 'src' (counter): unknown parameter 'cont'");
}

TEST_CASE("an unknown key given with --set is shown at the override") {
  auto e = plan_errors(
      "[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "[nodes.sink]\nplugin = \"collect\"\n",
      {"src.cont=3"});
  REQUIRE(e.size() == 1);
  CHECK(e[0].where.to_string() == "--set src.cont=3");
}

TEST_CASE("two nodes writing the same file are refused, naming both") {
  const std::string head = "[pipeline]\nlinks = [\"src -> a\", \"src -> b\"]\n[nodes.src]\nplugin = \"counter\"\n";
  const std::string here = std::filesystem::current_path().string();
  auto e = plan_errors(head + "[nodes.a]\nplugin = \"tap\"\npath = \"out/x.csv\"\n[nodes.b]\nplugin = \"tap\"\n" +
                       "path = \"" + here + "/out/../out/x.csv\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "node 'b' (tap): nodes 'a' and 'b' both write " + here + "/out/x.csv");
  CHECK(e[0].where.to_string() == "test.toml:10:8");
  CHECK(plan_errors(head + "[nodes.a]\nplugin = \"tap\"\npath = \"out/x.csv\"\n[nodes.b]\nplugin = \"tap\"\n" +
                    "path = \"out/y.csv\"\n")
            .empty());
}

TEST_CASE("an input file that does not exist is found before anything starts") {
  const std::string here = std::filesystem::current_path().string();
  auto e = plan_errors(
      "[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\nfrom = \"no-such.csv\"\n"
      "[nodes.sink]\nplugin = \"collect\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "node 'src' (counter): input file " + here + "/no-such.csv does not exist");
  CHECK(e[0].where.to_string() == "test.toml:5:8");
  CHECK_THAT(e[0].hint, Catch::Contains("relative to the pipeline file's folder"));
}

TEST_CASE("folders a node reads must exist and be folders, folders it writes into must be makeable") {
  namespace fs = std::filesystem;
  const fs::path here = fs::current_path();
  const fs::path dir = here / "plan-test-folders";
  fs::remove_all(dir);
  fs::create_directories(dir / "in");
  std::ofstream(dir / "a-file") << "x";
  auto with = [&](const std::string& key, const std::string& value) {
    return plan_errors("[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n" + key + " = \"" +
                       value + "\"\n[nodes.sink]\nplugin = \"collect\"\n");
  };
  CHECK(with("data", (dir / "in").string()).empty());
  CHECK(with("into", (dir / "out" / "deeper").string()).empty());
  CHECK(with("either", (dir / "in").string()).empty());
  CHECK(with("either", (dir / "a-file").string()).empty());

  auto missing = with("data", "plan-test-folders/none");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].message == "node 'src' (counter): input folder " + (dir / "none").string() + " does not exist");
  CHECK(missing[0].where.to_string() == "test.toml:5:8");
  auto a_file = with("data", (dir / "a-file").string());
  REQUIRE(a_file.size() == 1);
  CHECK(a_file[0].message == "node 'src' (counter): 'data' names a file, not a folder: " + (dir / "a-file").string());
  auto into_file = with("into", (dir / "a-file").string());
  REQUIRE(into_file.size() == 1);
  CHECK(into_file[0].message ==
        "node 'src' (counter): 'into' names a file, not a folder: " + (dir / "a-file").string());
  auto under_file = with("into", (dir / "a-file" / "x").string());
  REQUIRE(under_file.size() == 1);
  CHECK(under_file[0].message == "node 'src' (counter): cannot create " + (dir / "a-file" / "x").string() + ": " +
                                     (dir / "a-file").string() + " is not a folder");
  auto either = with("either", "plan-test-folders/none");
  REQUIRE(either.size() == 1);
  CHECK(either[0].message ==
        "node 'src' (counter): input file or folder " + (dir / "none").string() + " does not exist");
  fs::remove_all(dir);
}

TEST_CASE("a relative path is the file's folder's, unless it came from --set or starts with an environment variable") {
  namespace fs = std::filesystem;
  const fs::path here = fs::current_path();
  const fs::path dir = here / "plan-test-relative";
  fs::remove_all(dir);
  fs::create_directories(dir / "pipelines" / "data");
  fs::create_directories(dir / "data");
  const std::string text =
      "[pipeline]\nlinks = [\"a -> sink\", \"b -> sink\", \"c -> sink\"]\n"
      "[nodes.a]\nplugin = \"counter\"\ndata = \"${DATA:-data}\"\n"
      "[nodes.b]\nplugin = \"counter\"\ndata = \"${SET_HERE}\"\n"
      "[nodes.c]\nplugin = \"counter\"\ndata = \"data\"\n"
      "[nodes.sink]\nplugin = \"collect\"\n";
  const auto params = params_planned(text, (dir / "pipelines" / "p.toml").string(), "plan-test-relative/data",
                                     {"c.data=plan-test-relative/data"});
  auto data_of = [&](const std::string& name) { return params.at(name).get<std::string>("data"); };
  CHECK(data_of("a") == (dir / "pipelines" / "data").string());  // the default, in the file
  CHECK(data_of("b") == (dir / "data").string());                // from the environment
  CHECK(data_of("c") == (dir / "data").string());                // from --set
  fs::remove_all(dir);
}

TEST_CASE("a path key inside a table parameter is resolved and checked as a path parameter is") {
  namespace fs = std::filesystem;
  const fs::path here = fs::current_path();
  const fs::path dir = here / "plan-test-path-keys";
  fs::remove_all(dir);
  fs::create_directories(dir / "pipelines");
  std::ofstream(dir / "pipelines" / "m.pt") << "x";
  std::ofstream(dir / "m.pt") << "x";
  const std::string text =
      "[pipeline]\nlinks = [\"a -> sink\", \"b -> sink\", \"c -> sink\"]\n"
      "[nodes.a]\nplugin = \"counter\"\nmodel = { file = \"m.pt\", log = \"out/a.log\" }\n"
      "[nodes.b]\nplugin = \"counter\"\nmodel = { file = \"${SET_HERE}\" }\n"
      "[nodes.c]\nplugin = \"counter\"\nmodel = { file = \"m.pt\", kept = \"m.pt\" }\n"
      "[nodes.sink]\nplugin = \"collect\"\n";
  const auto params = params_planned(text, (dir / "pipelines" / "p.toml").string(), "plan-test-path-keys/m.pt",
                                     {"c.model.file=plan-test-path-keys/m.pt"});
  auto model_of = [&](const std::string& name) { return params.at(name).get<Value>("model"); };
  CHECK(model_of("a").find("file")->as_string() == (dir / "pipelines" / "m.pt").string());  // the file's folder
  CHECK(model_of("a").find("log")->as_string() == (dir / "pipelines" / "out" / "a.log").string());
  CHECK(model_of("b").find("file")->as_string() == (dir / "m.pt").string());  // from the environment
  CHECK(model_of("c").find("file")->as_string() == (dir / "m.pt").string());  // from --set
  CHECK(model_of("c").find("kept")->as_string() == "m.pt");                   // not a path key
  fs::remove_all(dir);

  // A missing input is found before anything starts, at the key inside the table.
  auto missing = plan_errors(
      "[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "model = { file = \"/no/such/m.pt\" }\n[nodes.sink]\nplugin = \"collect\"\n");
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].message == "node 'src' (counter): input file /no/such/m.pt does not exist");
  CHECK(missing[0].where.to_string() == "test.toml:5:18");
  auto unwritable = plan_errors(
      "[pipeline]\nlinks = [\"src -> sink\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "model = { log = \"/etc/passwd/a.log\" }\n[nodes.sink]\nplugin = \"collect\"\n");
  REQUIRE(unwritable.size() == 1);
  CHECK(unwritable[0].message == "node 'src' (counter): cannot create /etc/passwd/a.log: /etc/passwd is not a folder");
}

TEST_CASE("an output file whose folder cannot be made is found before anything starts") {
  auto e = plan_errors(
      "[pipeline]\nlinks = [\"src -> a\"]\n[nodes.src]\nplugin = \"counter\"\n"
      "[nodes.a]\nplugin = \"tap\"\npath = \"/etc/passwd/x.csv\"\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "node 'a' (tap): cannot create /etc/passwd/x.csv: /etc/passwd is not a folder");
}
