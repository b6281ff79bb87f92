// Unit tests for sim/sim_ledger: the interval set, record/reload, a torn last
// record, damaged records, compaction, the exclusive lock, and read_ledger
// while a writer holds the ledger.
#include "sim/sim_ledger.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace wabridge;
using namespace wabridge::sim;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the temp dir, removed with everything in it.
struct temp_dir {
  std::string path;
  temp_dir() {
    std::string templ = (fs::temp_directory_path() / "wabridge-ledger-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string log() const { return path + "/ledger.log"; }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::unique_ptr<sim_ledger> open_ok(const std::string& dir, ledger_options options = {}) {
  auto ledger = sim_ledger::open(dir, options);
  INFO((ledger ? std::string("ok") : describe(ledger.error())));
  REQUIRE(ledger);
  return std::move(*ledger);
}

ledger_state read_ok(const std::string& dir) {
  auto state = read_ledger(dir);
  INFO((state ? std::string("ok") : describe(state.error())));
  REQUIRE(state);
  return std::move(*state);
}

using ranges = std::vector<interval_set::range>;

}  // namespace

TEST_CASE("interval_set merges overlapping and adjacent ranges", "[sim_ledger]") {
  interval_set set;
  set.insert(10, 20);
  set.insert(30, 40);
  CHECK(set.ranges().size() == 2);
  CHECK(set.count() == 20);
  set.insert(20, 30);  // adjacent on both sides: one range
  REQUIRE(set.ranges().size() == 1);
  CHECK(set.ranges().begin()->first == 10);
  CHECK(set.ranges().begin()->second == 40);
  CHECK(set.count() == 30);
  set.insert(5, 12);   // overlaps the start
  set.insert(35, 50);  // overlaps the end
  set.insert(15, 25);  // inside
  set.insert(7, 7);    // empty: no-op
  REQUIRE(set.ranges().size() == 1);
  CHECK(set.ranges().begin()->first == 5);
  CHECK(set.ranges().begin()->second == 50);
  CHECK(set.count() == 45);
  set.insert(0, 100);  // swallows everything
  CHECK(set.ranges().size() == 1);
  CHECK(set.count() == 100);
}

TEST_CASE("interval_set answers contains, covers and gaps", "[sim_ledger]") {
  interval_set set;
  set.insert(0, 5);
  set.insert(10, 15);
  CHECK(set.contains(0));
  CHECK(set.contains(4));
  CHECK_FALSE(set.contains(5));
  CHECK_FALSE(set.contains(9));
  CHECK(set.contains(14));
  CHECK_FALSE(set.contains(15));
  CHECK(set.covers(1, 5));
  CHECK_FALSE(set.covers(1, 6));
  CHECK_FALSE(set.covers(4, 11));
  CHECK(set.covers(3, 3));
  CHECK(set.gaps(0, 20) == ranges{{5, 10}, {15, 20}});
  CHECK(set.gaps(2, 12) == ranges{{5, 10}});
  CHECK(set.gaps(0, 5).empty());
  CHECK(set.gaps(20, 30) == ranges{{20, 30}});
  CHECK(interval_set{}.gaps(3, 7) == ranges{{3, 7}});
}

TEST_CASE("a missing ledger reads as empty", "[sim_ledger]") {
  temp_dir dir;
  auto state = read_ok(dir.path);
  CHECK(state.generated == 0);
  CHECK(state.confirmed_count() == 0);
  CHECK(state.unconfirmed().empty());
}

TEST_CASE("records survive a reopen and reads agree with the writer", "[sim_ledger]") {
  temp_dir dir;
  {
    auto ledger = open_ok(dir.path);
    REQUIRE_FALSE(ledger->record_generated(100, 1'700'000'000));
    REQUIRE_FALSE(ledger->record_confirmed(0, 50));
    REQUIRE_FALSE(
        ledger->record_confirmed(std::vector<uint64_t>{62, 60, 61, 69, 63, 64, 65, 66, 67, 68}));
    CHECK(ledger->state().generated == 100);
    CHECK(ledger->state().confirmed_count() == 60);
  }
  auto state = read_ok(dir.path);
  CHECK(state.generated == 100);
  CHECK(state.confirmed_count() == 60);
  CHECK(state.unconfirmed_ranges() == ranges{{50, 60}, {70, 100}});
  CHECK(state.is_confirmed(0));
  CHECK(state.is_confirmed(65));
  CHECK_FALSE(state.is_confirmed(55));
  CHECK(state.generated_at(99) == 1'700'000'000);

  auto reopened = open_ok(dir.path);
  CHECK(reopened->state().generated == 100);
  CHECK(reopened->state().unconfirmed_ranges() == ranges{{50, 60}, {70, 100}});
}

TEST_CASE("unconfirmed lists every generated index not confirmed, ascending", "[sim_ledger]") {
  temp_dir dir;
  auto ledger = open_ok(dir.path);
  REQUIRE_FALSE(ledger->record_generated(10, 1));
  REQUIRE_FALSE(ledger->record_confirmed(std::vector<uint64_t>{0, 1, 2, 5, 9}));
  CHECK(ledger->state().unconfirmed() == std::vector<uint64_t>{3, 4, 6, 7, 8});
  REQUIRE_FALSE(ledger->record_confirmed(0, 10));
  CHECK(ledger->state().unconfirmed().empty());
}

TEST_CASE("duplicate confirms add no records", "[sim_ledger]") {
  temp_dir dir;
  auto ledger = open_ok(dir.path);
  REQUIRE_FALSE(ledger->record_generated(10, 1));
  REQUIRE_FALSE(ledger->record_confirmed(0, 10));
  auto size = slurp(dir.log()).size();
  REQUIRE_FALSE(ledger->record_confirmed(2, 8));
  REQUIRE_FALSE(ledger->record_confirmed(std::vector<uint64_t>{1, 3, 5}));
  CHECK(slurp(dir.log()).size() == size);
}

TEST_CASE("generation times are kept per batch and coalesced per second", "[sim_ledger]") {
  temp_dir dir;
  auto ledger = open_ok(dir.path);
  REQUIRE_FALSE(ledger->record_generated(10, 100));
  REQUIRE_FALSE(ledger->record_generated(20, 100));
  REQUIRE_FALSE(ledger->record_generated(25, 101));
  const auto& state = ledger->state();
  CHECK(state.times.size() == 2);
  CHECK(state.generated_at(0) == 100);
  CHECK(state.generated_at(19) == 100);
  CHECK(state.generated_at(20) == 101);
  CHECK(state.generated_at(24) == 101);
  CHECK_FALSE(state.generated_at(25));
  CHECK(read_ok(dir.path).generated_at(22) == 101);
}

TEST_CASE("the generated count cannot go down", "[sim_ledger]") {
  temp_dir dir;
  auto ledger = open_ok(dir.path);
  REQUIRE_FALSE(ledger->record_generated(10, 1));
  auto err = ledger->record_generated(5, 2);
  CHECK(code_of(err) == errc::invalid_argument);
  CHECK_FALSE(ledger->record_generated(10, 2));  // same count: no-op
  CHECK(ledger->state().generated == 10);
}

TEST_CASE("a torn last record is ignored by readers and truncated by the writer", "[sim_ledger]") {
  temp_dir dir;
  spit(dir.log(), "V 1\nG 10 5\nC 0 4\nC 4 1");  // crash in the middle of "C 4 10\n"
  auto state = read_ok(dir.path);
  CHECK(state.generated == 10);
  CHECK(state.confirmed_count() == 4);

  {
    auto ledger = open_ok(dir.path);
    CHECK(slurp(dir.log()) == "V 1\nG 10 5\nC 0 4\n");
    REQUIRE_FALSE(ledger->record_confirmed(4, 6));
  }
  CHECK(slurp(dir.log()) == "V 1\nG 10 5\nC 0 4\nC 4 6\n");
  CHECK(read_ok(dir.path).unconfirmed_ranges() == ranges{{6, 10}});
}

TEST_CASE("damaged complete records are skipped and compacted away", "[sim_ledger]") {
  temp_dir dir;
  std::string text = "V 1\nG 10 5\n";
  text += std::string(7, '\0') + "\n";  // a zeroed block after a power loss
  text += "C 0 x\nX 1 2\nC 5 3\nC 0 3\n";
  spit(dir.log(), text);
  auto state = read_ok(dir.path);
  CHECK(state.generated == 10);
  CHECK(state.unconfirmed_ranges() == ranges{{3, 10}});
  {
    auto ledger = open_ok(dir.path);
    CHECK(ledger->state().unconfirmed_ranges() == ranges{{3, 10}});
  }
  CHECK(slurp(dir.log()) == "V 1\nG 10 5\nC 0 3\n");
}

TEST_CASE("a confirm beyond the last generation record raises the generated count",
          "[sim_ledger]") {
  // Power loss may keep a later page ("C") and lose an earlier one ("G").
  temp_dir dir;
  spit(dir.log(), "V 1\nG 10 5\nC 0 20\n");
  auto state = read_ok(dir.path);
  CHECK(state.generated == 20);
  CHECK(state.unconfirmed().empty());
}

TEST_CASE("an unknown ledger version is refused", "[sim_ledger]") {
  temp_dir dir;
  spit(dir.log(), "V 2\nG 10 5\n");
  auto state = read_ledger(dir.path);
  REQUIRE_FALSE(state);
  CHECK(code_of(state.error()) == errc::io_failure);
  CHECK_THAT(describe(state.error()), Catch::Contains("version"));
  CHECK_FALSE(sim_ledger::open(dir.path));
}

TEST_CASE("compaction keeps the state and the times of unconfirmed events", "[sim_ledger]") {
  temp_dir dir;
  ledger_options small;
  small.compact_min_bytes = 2048;
  {
    auto ledger = open_ok(dir.path, small);
    for (uint64_t n = 1; n <= 600; ++n) {
      REQUIRE_FALSE(ledger->record_generated(n, static_cast<int64_t>(1000 + n)));
      if (n != 300) REQUIRE_FALSE(ledger->record_confirmed(n - 1, n));
    }
    CHECK(slurp(dir.log()).size() < 4096);  // compacted along the way
    CHECK(ledger->state().unconfirmed() == std::vector<uint64_t>{299});
    CHECK(ledger->state().generated_at(299) == 1300);
  }
  auto state = read_ok(dir.path);
  CHECK(state.generated == 600);
  CHECK(state.unconfirmed() == std::vector<uint64_t>{299});
  CHECK(state.generated_at(299) == 1300);
  CHECK_FALSE(fs::exists(dir.log() + ".tmp"));

  auto ledger = open_ok(dir.path);
  REQUIRE_FALSE(ledger->compact());
  CHECK(slurp(dir.log()) == "V 1\nG 300 1300\nG 600 1600\nC 0 299\nC 300 600\n");
  CHECK(read_ok(dir.path).times.size() == 2);
}

TEST_CASE("a second writer on the same ledger is refused with the holder's pid", "[sim_ledger]") {
  temp_dir dir;
  auto first = open_ok(dir.path);
  auto second = sim_ledger::open(dir.path);
  REQUIRE_FALSE(second);
  CHECK(code_of(second.error()) == errc::io_failure);
  CHECK_THAT(describe(second.error()), Catch::Contains("in use by another sim-upstream"));
  CHECK_THAT(describe(second.error()), Catch::Contains(std::to_string(::getpid())));
  first.reset();
  CHECK(sim_ledger::open(dir.path));  // the lock died with the first writer
}

TEST_CASE("read_ledger works while a writer holds the ledger", "[sim_ledger]") {
  temp_dir dir;
  auto ledger = open_ok(dir.path);
  REQUIRE_FALSE(ledger->record_generated(8, 42));
  REQUIRE_FALSE(ledger->record_confirmed(0, 3));
  auto state = read_ok(dir.path);
  CHECK(state.generated == 8);
  CHECK(state.unconfirmed() == std::vector<uint64_t>{3, 4, 5, 6, 7});
  REQUIRE_FALSE(ledger->record_confirmed(3, 8));
  CHECK(read_ok(dir.path).unconfirmed().empty());
}

TEST_CASE("open creates missing directories", "[sim_ledger]") {
  temp_dir dir;
  std::string nested = dir.path + "/data/main/sim";
  auto ledger = open_ok(nested);
  CHECK(fs::is_directory(nested));
  CHECK(slurp(nested + "/ledger.log") == "V 1\n");
}

TEST_CASE("open fails clearly when the ledger path is a file", "[sim_ledger]") {
  temp_dir dir;
  spit(dir.path + "/file", "x");
  auto ledger = sim_ledger::open(dir.path + "/file");
  REQUIRE_FALSE(ledger);
  CHECK(code_of(ledger.error()) == errc::io_failure);
}
