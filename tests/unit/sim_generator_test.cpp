// Unit tests for sim/sim_event_generator: determinism, the fast line writer
// agreeing byte for byte with the JSON path, uid <-> index, SPEC §4 field
// presence and types, body sizes and the mix of event kinds.
#include "sim/sim_event_generator.hpp"

#include "upstream/protocol.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>
#include <string>

using namespace wabridge;
using namespace wabridge::sim;
using nlohmann::json;

namespace {

constexpr int64_t ts = 1'700'000'000;

generator_options opts(uint64_t seed = 1, uint32_t body_bytes = 0, uint32_t chats = 50) {
  generator_options o;
  o.seed = seed;
  o.account = "main";
  o.chats = chats;
  o.body_bytes = body_bytes;
  return o;
}

std::string line_of(const sim_event_generator& gen, uint64_t i, upstream::origin from) {
  std::string out;
  gen.append_event_line(i, ts, from, out);
  return out;
}

size_t count_of(const std::string& text, char c) {
  size_t n = 0;
  for (char ch : text) n += ch == c;
  return n;
}

}  // namespace

TEST_CASE("the same index yields identical bytes, across generator instances", "[sim_generator]") {
  sim_event_generator a{opts()};
  sim_event_generator b{opts()};
  for (uint64_t i : std::initializer_list<uint64_t>{0, 1, 2, 77, 1000, 123456789}) {
    CHECK(a.fields(i, ts).dump() == b.fields(i, ts).dump());
    CHECK(a.fields(i, ts).dump() == a.fields(i, ts).dump());
    CHECK(line_of(a, i, upstream::origin::live) == line_of(b, i, upstream::origin::live));
    CHECK(a.uid(i) == b.uid(i));
  }
}

TEST_CASE("a redelivered event differs from the original only in its origin", "[sim_generator]") {
  sim_event_generator gen{opts()};
  for (uint64_t i = 0; i < 50; ++i) {
    auto live = line_of(gen, i, upstream::origin::live);
    auto offline = line_of(gen, i, upstream::origin::offline);
    auto pos = live.find(R"("origin":"live")");
    REQUIRE(pos != std::string::npos);
    CHECK(live.substr(0, pos) + R"("origin":"offline")" + live.substr(pos + 15) == offline);
  }
}

TEST_CASE("seed and account change the stream", "[sim_generator]") {
  sim_event_generator base{opts(1)};
  sim_event_generator other_seed{opts(2)};
  auto other_account_opts = opts(1);
  other_account_opts.account = "second";
  sim_event_generator other_account{other_account_opts};
  int same_seed = 0;
  int same_account = 0;
  for (uint64_t i = 0; i < 20; ++i) {
    same_seed += base.uid(i) == other_seed.uid(i);
    same_account += base.uid(i) == other_account.uid(i);
  }
  CHECK(same_seed < 5);
  CHECK(same_account < 5);
}

TEST_CASE("the fast line writer matches format_event byte for byte", "[sim_generator]") {
  for (uint32_t body_bytes : {0u, 500u, 3u}) {
    sim_event_generator gen{opts(7, body_bytes)};
    for (uint64_t i = 0; i < 3000; ++i) {
      for (auto from : {upstream::origin::live, upstream::origin::offline}) {
        INFO("body_bytes=" << body_bytes << " i=" << i);
        auto expected = upstream::format_event(gen.uid(i), from, gen.fields(i, ts)) + "\n";
        REQUIRE(line_of(gen, i, from) == expected);
      }
    }
  }
}

TEST_CASE("appended lines accumulate in one buffer", "[sim_generator]") {
  sim_event_generator gen{opts()};
  std::string batch;
  for (uint64_t i = 0; i < 100; ++i) gen.append_event_line(i, ts, upstream::origin::live, batch);
  CHECK(count_of(batch, '\n') == 100);
  CHECK(batch.substr(0, line_of(gen, 0, upstream::origin::live).size()) ==
        line_of(gen, 0, upstream::origin::live));
}

TEST_CASE("generated lines parse as protocol events with the generator's uid", "[sim_generator]") {
  sim_event_generator gen{opts()};
  for (uint64_t i = 0; i < 500; ++i) {
    auto line = line_of(gen, i, upstream::origin::offline);
    line.pop_back();  // the newline
    auto parsed = upstream::parse_upstream_line(line);
    REQUIRE(parsed);
    const auto& ev = std::get<upstream::event_msg>(*parsed);
    CHECK(ev.uid == gen.uid(i));
    CHECK(ev.from == upstream::origin::offline);
  }
}

TEST_CASE("message ids encode the index and uids map back to it", "[sim_generator]") {
  CHECK(message_id_of(0) == "SIM0000000000000000");
  CHECK(message_id_of(0xABCDEF) == "SIM0000000000ABCDEF");
  CHECK(message_id_of(UINT64_MAX) == "SIMFFFFFFFFFFFFFFFF");
  sim_event_generator gen{opts()};
  for (uint64_t i :
       std::initializer_list<uint64_t>{0, 1, 15, 4096, 99999, uint64_t{1} << 40, UINT64_MAX}) {
    INFO("i=" << i);
    auto uid = gen.uid(i);
    CHECK(index_of_uid(uid) == i);
    CHECK(gen.fields(i, ts)["messageId"] == message_id_of(i));
  }
}

TEST_CASE("uids not shaped like the sim's map to no index", "[sim_generator]") {
  for (const char* uid :
       {"", "no-colon", ":SIM0000000000000001", "c@s.whatsapp.net:SIM000000000000001",
        "c@s.whatsapp.net:SIM000000000000000G", "c@s.whatsapp.net:sim0000000000000001",
        "c@s.whatsapp.net:SIM0000000000000001:", "c@s.whatsapp.net:SIM00000000000000011",
        "c@s.whatsapp.net:3EB0000000000000000", "c@s.whatsapp.net:SIM0000000000000001x"}) {
    INFO("uid=" << uid);
    CHECK_FALSE(index_of_uid(uid));
  }
  CHECK(index_of_uid("c@g.us:SIM00000000000000FF:p@s.whatsapp.net") == 255);
}

TEST_CASE("group events carry the participant in the uid; DMs do not", "[sim_generator]") {
  sim_event_generator gen{opts()};
  int groups = 0;
  int dms = 0;
  for (uint64_t i = 0; i < 300; ++i) {
    json f = gen.fields(i, ts);
    std::string uid = gen.uid(i);
    std::string chat = f["chatId"];
    std::string sender = f["senderId"];
    if (f["isGroup"].get<bool>()) {
      ++groups;
      CHECK(chat.size() > 5);
      CHECK(chat.substr(chat.size() - 5) == "@g.us");
      CHECK(chat.find('-') != std::string::npos);
      CHECK(uid == chat + ":" + f["messageId"].get<std::string>() + ":" + sender);
      CHECK(f["readReceiptKey"]["participant"] == sender);
      CHECK(sender != chat);
    } else {
      ++dms;
      CHECK(chat.find("@s.whatsapp.net") != std::string::npos);
      CHECK(uid == chat + ":" + f["messageId"].get<std::string>());
      CHECK(sender == chat);
      CHECK_FALSE(f["readReceiptKey"].contains("participant"));
      CHECK(f["mentionedIds"].empty());
    }
    CHECK(f["readReceiptKey"]["remoteJid"] == chat);
    CHECK(f["readReceiptKey"]["id"] == f["messageId"]);
    CHECK(f["readReceiptKey"]["fromMe"] == false);
  }
  CHECK(groups > 0);
  CHECK(dms > 0);
}

TEST_CASE("every SPEC §4 field is present with its type", "[sim_generator]") {
  sim_event_generator gen{opts()};
  for (uint64_t i = 0; i < 1000; ++i) {
    json f = gen.fields(i, ts + static_cast<int64_t>(i));
    INFO(f.dump());
    for (const char* key :
         {"messageId", "chatId", "senderId", "senderName", "chatName", "body", "mediaType", "mime",
          "fileName", "quotedMessageId", "quotedParticipant", "quotedText"})
      REQUIRE(f[key].is_string());
    for (const char* key : {"isGroup", "hasMedia", "hasQuotedMessage"})
      REQUIRE(f[key].is_boolean());
    for (const char* key : {"mediaUrls", "mentionedIds", "botIds"}) REQUIRE(f[key].is_array());
    REQUIRE(f["readReceiptKey"].is_object());
    REQUIRE(f["timestamp"].is_number_integer());
    CHECK(f["timestamp"] == ts + static_cast<int64_t>(i));
    // The envelope and the journal own these.
    for (const char* key : {"seq", "eventUid", "origin", "receivedAt"})
      CHECK_FALSE(f.contains(key));

    CHECK_FALSE(f["senderName"].get<std::string>().empty());
    CHECK_FALSE(f["chatName"].get<std::string>().empty());
    CHECK(f["botIds"].size() == 2);
    for (const auto& id : f["mentionedIds"]) CHECK(id.is_string());
    bool quoted = f["hasQuotedMessage"];
    CHECK(quoted == !f["quotedMessageId"].get<std::string>().empty());
    CHECK(quoted == !f["quotedParticipant"].get<std::string>().empty());
    bool media = f["hasMedia"];
    CHECK(media == !f["mediaType"].get<std::string>().empty());
    CHECK(media == !f["mime"].get<std::string>().empty());
    CHECK((f["mediaType"] == "document") == !f["fileName"].get<std::string>().empty());
    if (!media) CHECK_FALSE(f["body"].get<std::string>().empty());
    // Mentions name people the way WhatsApp does: "@<number>" in the text.
    for (const auto& id : f["mentionedIds"]) {
      std::string jid = id;
      std::string digits = jid.substr(0, jid.find('@'));
      CHECK(f["body"].get<std::string>().find("@" + digits) != std::string::npos);
    }
  }
}

TEST_CASE("the mix of event kinds looks like a real phone over 1000 events", "[sim_generator]") {
  sim_event_generator gen{opts()};
  int groups = 0, dms = 0, quotes = 0, media = 0, mentions = 0, multiline = 0, bot_mentions = 0;
  std::set<std::string> media_types;
  std::set<std::string> chats;
  std::set<std::string> senders;
  for (uint64_t i = 0; i < 1000; ++i) {
    json f = gen.fields(i, ts);
    (f["isGroup"].get<bool>() ? groups : dms)++;
    quotes += f["hasQuotedMessage"].get<bool>();
    media += f["hasMedia"].get<bool>();
    mentions += !f["mentionedIds"].empty();
    multiline += f["body"].get<std::string>().find('\n') != std::string::npos;
    for (const auto& id : f["mentionedIds"]) bot_mentions += id == f["botIds"][0];
    if (f["hasMedia"].get<bool>()) media_types.insert(f["mediaType"].get<std::string>());
    chats.insert(f["chatId"].get<std::string>());
    senders.insert(f["senderId"].get<std::string>());
  }
  CHECK(groups > 150);
  CHECK(dms > 300);
  CHECK(quotes > 50);
  CHECK(quotes < 150);
  CHECK(media > 50);
  CHECK(media < 150);
  CHECK(mentions > 30);
  CHECK(bot_mentions > 5);
  CHECK(multiline > 20);
  CHECK(media_types.size() >= 5);
  CHECK(chats.size() > 25);
  CHECK(chats.size() <= 50);
  CHECK(senders.size() > chats.size());
}

TEST_CASE("realistic bodies are mostly short with some long ones", "[sim_generator]") {
  sim_event_generator gen{opts()};
  int short_bodies = 0;
  int long_bodies = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    auto body = gen.fields(i, ts)["body"].get<std::string>();
    short_bodies += body.size() < 40;
    long_bodies += body.size() > 300;
  }
  CHECK(short_bodies > 300);
  CHECK(long_bodies > 10);
}

TEST_CASE("body_bytes sets the mean body length", "[sim_generator]") {
  for (uint32_t target : {100u, 500u, 5000u}) {
    sim_event_generator gen{opts(3, target)};
    double total = 0;
    size_t shortest = SIZE_MAX;
    const int n = 2000;
    for (uint64_t i = 0; i < n; ++i) {
      auto body = gen.fields(i, ts)["body"].get<std::string>();
      total += static_cast<double>(body.size());
      shortest = std::min(shortest, body.size());
    }
    double mean = total / n;
    INFO("target=" << target << " mean=" << mean);
    CHECK(mean > target * 0.9);
    CHECK(mean < target * 1.1);
    CHECK(shortest >= target / 2);
  }
}

TEST_CASE("a body longer than the corpus wraps around", "[sim_generator]") {
  // The corpus is at least 256 KiB; 200 KB bodies force wrapping now and then.
  sim_event_generator gen{opts(1, 200'000)};
  for (uint64_t i = 0; i < 5; ++i) {
    auto body = gen.fields(i, ts)["body"].get<std::string>();
    CHECK(body.size() >= 100'000);
    CHECK(line_of(gen, i, upstream::origin::live) ==
          upstream::format_event(gen.uid(i), upstream::origin::live, gen.fields(i, ts)) + "\n");
  }
}

TEST_CASE("the chats option bounds the chats used", "[sim_generator]") {
  sim_event_generator one{opts(1, 0, 1)};
  std::set<std::string> chats;
  for (uint64_t i = 0; i < 100; ++i) chats.insert(one.fields(i, ts)["chatId"].get<std::string>());
  CHECK(chats.size() == 1);

  sim_event_generator zero{opts(1, 0, 0)};  // clamped to one chat, not a crash
  CHECK_FALSE(zero.uid(5).empty());

  sim_event_generator many{opts(1, 0, 5000)};
  chats.clear();
  for (uint64_t i = 0; i < 3000; ++i) chats.insert(many.fields(i, ts)["chatId"].get<std::string>());
  CHECK(chats.size() > 500);
}
