#include "sim/sim_event_generator.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace wabridge::sim {
namespace {

// ---- randomness -------------------------------------------------------------
// splitmix64: cheap, stateless mixing, so any draw can be derived from
// (key, i) alone; that is what makes an event a pure function of its index.

constexpr uint64_t golden = 0x9e3779b97f4a7c15ULL;

constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Independent streams per purpose: tag separates "contact 7" from "event 7".
constexpr uint64_t derive(uint64_t key, uint64_t tag, uint64_t n) {
  return mix64(mix64(key ^ (tag * golden)) + n);
}

enum stream_tag : uint64_t {
  tag_contact = 1,
  tag_chat = 2,
  tag_event = 3,
  tag_self = 4,
};

struct rng {
  uint64_t state;
  uint64_t next() {
    state += golden;
    return mix64(state);
  }
  // Lemire's multiply-shift; the bias for n << 2^32 is far below what matters here.
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(((next() >> 32) * n) >> 32); }
  bool per_mille(uint32_t p) { return below(1000) < p; }
};

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// ---- vocabulary -------------------------------------------------------------
// A little non-ASCII, emoji and JSON-special text on purpose: the bridge must
// carry it through the journal and HTTP unchanged.

constexpr std::string_view first_names[] = {
    "Ana",   "José",   "Zoë",     "Łukasz", "Chiamaka", "Priya",   "Björn",  "Mehmet",
    "Yuki",  "Kwame",  "François", "Siobhán", "Ngozi",  "Dmitri",  "Mei",    "Aarav",
    "Fatima", "Liam",  "Sofia",   "Mateo",  "Chloé",    "Ingrid",  "Hana",   "Rafael",
    "Amara", "Tomás",  "Elif",    "Noah",   "Leila",    "Olusegun", "Marta", "Jonas",
    "Aiko",  "Carlos", "Nadia",   "Pedro",  "Sara",     "Ahmed",   "Lucía",  "Emma"};

constexpr std::string_view last_names[] = {
    "Silva",  "Okafor",   "Müller",    "Kowalski", "Sharma", "Andersson", "Yılmaz", "Tanaka",
    "Mensah", "Dubois",   "O'Connor",  "Ivanova",  "Chen",   "Patel",     "Haddad", "Smith",
    "Rossi",  "García",   "Nakamura",  "Costa",    "Novak",  "Ferreira",  "Adeyemi", "Lindqvist",
    "Kim",    "Santos",   "Bianchi",   "Nguyen",   "Moreau", "Schmidt"};

constexpr std::string_view name_suffixes[] = {" 🌸", " ✨", " 🇧🇷", " (work)", " 🏳️‍🌈", " 🙂"};

constexpr std::string_view group_names[] = {
    "Family",          "Climbing crew 🧗", "Project Atlas",  "Book club 📚", "Flatmates",
    "Football Sunday ⚽", "Design review",  "Parents of 3B",  "Weekend trip", "Dev team",
    "Neighbours",      "Choir rehearsals", "Founders 🚀",    "Running club 🏃", "Uni friends",
    "Garden allotment", "Grupo da praia 🏖️", "Ops on-call",  "Wedding planning 💍", "Chess club"};

constexpr std::string_view words[] = {
    "the",     "a",       "and",      "to",      "of",      "in",       "is",      "it",
    "you",     "that",    "we",       "for",     "on",      "with",     "this",    "are",
    "be",      "at",      "have",     "not",     "can",     "just",     "so",      "but",
    "what",    "all",     "if",       "about",   "will",    "get",      "time",    "think",
    "know",    "see",     "today",    "tomorrow", "meeting", "later",    "dinner",  "train",
    "message", "call",    "photo",    "weekend", "morning", "tonight",  "ticket",  "office",
    "coffee",  "please",  "thanks",   "maybe",   "sure",    "really",   "great",   "late",
    "early",   "house",   "kids",     "school",  "doctor",  "shop",     "bring",   "forgot",
    "sorry",   "ready",   "leaving",  "arrived", "here",    "there",    "again",   "still",
    "already", "check",   "send",     "document", "update", "deploy",   "release", "review",
    "budget",  "invoice", "flight",   "hotel",   "address", "parking",  "rain",    "sunny",
    "birthday", "cake",   "gift",     "party",   "match",   "score",    "lol",     "tbh",
    "ok",      "yes",     "no",       "maybe",   "café",    "naïve",    "über",    "você",
    "mañana",  "obrigado", "danke",   "merci",   "😂",      "👍",       "🙏",      "❤️",
    "🎉",      "🔥",      "\"quoted\"", "C:\\temp", "50%",  "<b>",      "&",       "it's",
    "3pm",     "10:30",   "#42",      "v2.1",    "e-mail",  "follow-up", "ASAP",   "FYI"};

constexpr std::string_view endings[] = {".", ".", ".", "!", "?", "", " 😂", "...", "!!", " 🙂"};

constexpr std::string_view short_phrases[] = {
    "ok",          "👍",                "on my way",         "lol",
    "sure",        "thanks!",           "can you call me?",  "see you at 5",
    "haha",        "yes",               "no worries",        "I'm here",
    "running late, 10 min", "good morning ☀️", "did you see this?", "🙏",
    "sounds good", "brb",               "what time?",        "ok 👌",
    "done ✅",     "Happy birthday!! 🎂", "where are you?",    "k"};

constexpr std::string_view link_hosts[] = {"https://example.com/a/", "https://docs.example.org/d/",
                                           "https://youtu.be/", "https://maps.example.net/?q="};

struct country {
  std::string_view code;
  int national_digits;
};
constexpr country countries[] = {{"1", 10},  {"44", 10}, {"49", 11},  {"55", 11},
                                 {"91", 10}, {"234", 10}, {"351", 9}, {"33", 9},
                                 {"34", 9},  {"52", 10}, {"81", 10},  {"62", 11}};

enum class media_kind : uint8_t { none, image, video, audio, ptt, document, sticker };

constexpr std::string_view media_type_name(media_kind k) {
  switch (k) {
    case media_kind::none: return "";
    case media_kind::image: return "image";
    case media_kind::video: return "video";
    case media_kind::audio: return "audio";
    case media_kind::ptt: return "ptt";
    case media_kind::document: return "document";
    case media_kind::sticker: return "sticker";
  }
  return "";
}

struct document_kind {
  std::string_view file_name;
  std::string_view mime;
};
constexpr document_kind documents[] = {
    {"Invoice_2024-03.pdf", "application/pdf"},
    {"contract (signed).pdf", "application/pdf"},
    {"notes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"Q3 slides.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"photos.zip", "application/zip"},
    {"README.txt", "text/plain"},
    {"relatório_final.pdf", "application/pdf"}};

constexpr std::string_view media_mime(media_kind k, uint32_t doc) {
  switch (k) {
    case media_kind::none: return "";
    case media_kind::image: return "image/jpeg";
    case media_kind::video: return "video/mp4";
    case media_kind::audio: return "audio/mpeg";
    case media_kind::ptt: return "audio/ogg; codecs=opus";
    case media_kind::document: return documents[doc].mime;
    case media_kind::sticker: return "image/webp";
  }
  return "";
}

template <class T, size_t N>
constexpr uint32_t count_of(const T (&)[N]) {
  return static_cast<uint32_t>(N);
}

template <class T, size_t N>
const T& pick(const T (&table)[N], rng& r) {
  return table[r.below(static_cast<uint32_t>(N))];
}

// ---- output -----------------------------------------------------------------

struct plain_sink {
  std::string& out;
  void put(std::string_view s) { out.append(s); }
};

// Escapes exactly as nlohmann::json::dump(-1, ' ', false) does: '"', '\\',
// the short escapes, other control bytes as \u00xx (lowercase hex), and
// everything else, including UTF-8 and 0x7f, verbatim.
void append_escaped(std::string& out, std::string_view s) {
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t k = 0; k < s.size(); ++k) {
    auto c = static_cast<unsigned char>(s[k]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, k - run);
    run = k + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        out.append(esc, sizeof esc);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
}

struct json_sink {
  std::string& out;
  void put(std::string_view s) { append_escaped(out, s); }
};

// Counts what the text generators wrote, so a body can stop near a target length.
template <class Sink>
struct counted {
  Sink& sink;
  size_t written = 0;
  void put(std::string_view s) {
    sink.put(s);
    written += s.size();
  }
};

void append_hex16(std::string& out, uint64_t v) {
  static constexpr char hex[] = "0123456789ABCDEF";
  char buf[16];
  for (int k = 15; k >= 0; --k) {
    buf[k] = hex[v & 0xf];
    v >>= 4;
  }
  out.append(buf, sizeof buf);
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(res.ptr - buf));
}

std::string digits_from(rng& r, int n) {
  std::string out;
  out.reserve(static_cast<size_t>(n));
  out.push_back(static_cast<char>('1' + r.below(9)));  // no leading zero
  for (int k = 1; k < n; ++k) out.push_back(static_cast<char>('0' + r.below(10)));
  return out;
}

std::string phone_number(rng& r) {
  const auto& c = pick(countries, r);
  return std::string(c.code) + digits_from(r, c.national_digits);
}

// One sentence of `min..max` words; stops early once `stop_at` bytes are written.
template <class Out>
void sentence(Out& out, rng& r, uint32_t min_words, uint32_t max_words,
              size_t stop_at = SIZE_MAX) {
  uint32_t n = min_words + r.below(max_words - min_words + 1);
  for (uint32_t k = 0; k < n; ++k) {
    if (k > 0) out.put(" ");
    std::string_view w = pick(words, r);
    if (k == 0 && w[0] >= 'a' && w[0] <= 'z') {
      char cap = static_cast<char>(w[0] - 'a' + 'A');
      out.put(std::string_view(&cap, 1));
      out.put(w.substr(1));
    } else {
      out.put(w);
    }
    if (out.written >= stop_at) return;
  }
  out.put(pick(endings, r));
}

}  // namespace

// ---- the plan of one event ----------------------------------------------------

struct sim_event_generator::plan {
  uint64_t index = 0;
  uint32_t chat = 0;
  uint32_t sender = 0;  // contact index
  media_kind media = media_kind::none;
  uint32_t doc = 0;  // documents[] index when media == document
  bool caption = false;
  bool quoted = false;
  uint64_t quoted_id = 0;
  int64_t quoted_who = -1;  // contact index, or -1 for the account itself
  uint64_t quoted_seed = 0;
  uint32_t mention_count = 0;
  int64_t mentions[3] = {-1, -1, -1};  // contact indices, -1 = the account itself
  uint32_t body_kind = 0;
  uint32_t body_target = 0;  // body_bytes mode: stop near this many bytes
  uint64_t body_seed = 0;
};

sim_event_generator::sim_event_generator(generator_options options)
    : options_(std::move(options)) {
  options_.chats = std::clamp<uint32_t>(options_.chats, 1, max_chats);
  key_ = mix64(options_.seed ^ fnv1a(options_.account));

  // People: enough that groups overlap only partly with DMs, as in a real phone book.
  const uint32_t people = options_.chats * 2 + 16;
  contacts_.reserve(people);
  for (uint32_t j = 0; j < people; ++j) {
    rng r{derive(key_, tag_contact, j)};
    contact c;
    c.digits = phone_number(r);
    c.jid = c.digits + "@s.whatsapp.net";
    uint32_t style = r.below(100);
    if (style < 5) {
      c.name = c.digits;  // no push name: the Node bridge falls back to the number
    } else {
      c.name = std::string(pick(first_names, r));
      if (style < 65) c.name += " " + std::string(pick(last_names, r));
      if (style >= 90) c.name += std::string(pick(name_suffixes, r));
    }
    contacts_.push_back(std::move(c));
  }

  {
    rng r{derive(key_, tag_self, 0)};
    self_.digits = phone_number(r);
    self_.jid = self_.digits + "@s.whatsapp.net";
    self_.name = options_.account.empty() ? "wabridge" : options_.account;
    self_lid_ = digits_from(r, 15) + "@lid";
  }

  chats_.reserve(options_.chats);
  for (uint32_t k = 0; k < options_.chats; ++k) {
    rng r{derive(key_, tag_chat, k)};
    chat c;
    // Chat 0 is a DM and chat 1 a group, so even a tiny `chats` shows both kinds.
    c.is_group = k == 1 || (k != 0 && r.per_mille(300));
    if (!c.is_group) {
      c.members.push_back(k);  // DM k talks to contact k
      c.id = contacts_[k].jid;
      c.name = contacts_[k].name;
    } else {
      uint32_t n = 3 + r.below(13);
      while (c.members.size() < n) {
        uint32_t m = r.below(people);
        if (std::find(c.members.begin(), c.members.end(), m) == c.members.end())
          c.members.push_back(m);
      }
      const auto& creator = contacts_[c.members[0]];
      c.id = creator.digits + "-" + std::to_string(1'400'000'000 + r.below(300'000'000)) + "@g.us";
      c.name = std::string(pick(group_names, r));
      if (k >= count_of(group_names)) c.name += " " + std::to_string(k);
    }
    chats_.push_back(std::move(c));
  }
}

sim_event_generator::plan sim_event_generator::make_plan(uint64_t i) const {
  plan p;
  p.index = i;
  rng r{derive(key_, tag_event, i)};
  // Busy chats and quiet ones: squaring a uniform draw favours low indices.
  double u = static_cast<double>(r.next() >> 11) * 0x1.0p-53;
  p.chat = std::min(options_.chats - 1, static_cast<uint32_t>(u * u * options_.chats));
  const chat& c = chats_[p.chat];
  if (c.is_group) {
    // A few members do most of the talking.
    auto n = static_cast<uint32_t>(c.members.size());
    p.sender = c.members[std::min(r.below(n), r.below(n))];
  } else {
    p.sender = c.members[0];
  }

  if (r.per_mille(100)) {
    uint32_t m = r.below(100);
    p.media = m < 40   ? media_kind::image
              : m < 55 ? media_kind::video
              : m < 65 ? media_kind::audio
              : m < 80 ? media_kind::ptt
              : m < 92 ? media_kind::document
                       : media_kind::sticker;
    p.doc = r.below(count_of(documents));
    bool captionable = p.media == media_kind::image || p.media == media_kind::video ||
                       p.media == media_kind::document;
    p.caption = options_.body_bytes > 0 || (captionable && r.per_mille(500));
  }

  p.quoted = r.per_mille(100);
  if (p.quoted) {
    p.quoted_id = r.next();
    // Replies to the bot's own messages are the common case for agent gateways.
    if (r.per_mille(350)) {
      p.quoted_who = -1;
    } else {
      p.quoted_who = c.members[r.below(static_cast<uint32_t>(c.members.size()))];
    }
    p.quoted_seed = r.next();
  }

  if (c.is_group && p.media == media_kind::none && r.per_mille(280)) {
    p.mention_count = 1 + r.below(3);
    for (uint32_t k = 0; k < p.mention_count; ++k) {
      // Mentioning the bot is what makes a gateway answer in a group.
      if (r.per_mille(300)) {
        p.mentions[k] = -1;
      } else {
        p.mentions[k] = c.members[r.below(static_cast<uint32_t>(c.members.size()))];
      }
    }
  }

  uint32_t kind = r.below(100);
  p.body_kind = kind < 45 ? 0 : kind < 80 ? 1 : kind < 92 ? 2 : kind < 97 ? 3 : 4;
  if (options_.body_bytes > 0) {
    // Uniform on [b/2, 3b/2]: mean b, with some spread.
    p.body_target = options_.body_bytes / 2 + r.below(options_.body_bytes + 1);
  }
  p.body_seed = r.next();
  return p;
}

template <class Sink>
void sim_event_generator::write_body(const plan& p, Sink& sink) const {
  counted<Sink> out{sink};
  rng r{p.body_seed};
  for (uint32_t k = 0; k < p.mention_count; ++k) {
    out.put("@");
    out.put(p.mentions[k] < 0 ? self_.digits
                              : contacts_[static_cast<size_t>(p.mentions[k])].digits);
    out.put(" ");
  }
  if (options_.body_bytes > 0) {
    // Sentences until the target; every ~7th break is a newline (multi-line texts).
    while (out.written < p.body_target) {
      if (out.written > 0) out.put(r.per_mille(150) ? "\n" : " ");
      sentence(out, r, 5, 15, p.body_target);
    }
    return;
  }
  if (p.media != media_kind::none) {
    if (p.caption) sentence(out, r, 2, 10);
    return;
  }
  switch (p.body_kind) {
    case 0:
      if (p.mention_count > 0) {
        sentence(out, r, 2, 6);
      } else {
        out.put(pick(short_phrases, r));
      }
      break;
    case 1: sentence(out, r, 3, 14); break;
    case 2: {
      uint32_t n = 2 + r.below(3);
      for (uint32_t k = 0; k < n; ++k) {
        if (k > 0) out.put(" ");
        sentence(out, r, 4, 14);
      }
      break;
    }
    case 3: {
      uint32_t lines = 3 + r.below(8);
      for (uint32_t k = 0; k < lines; ++k) {
        if (k > 0) out.put(r.per_mille(200) ? "\n\n" : "\n");
        if (r.per_mille(250)) out.put("- ");
        sentence(out, r, 6, 20);
      }
      break;
    }
    default: {
      sentence(out, r, 1, 5);
      out.put(" ");
      out.put(pick(link_hosts, r));
      std::string id;
      append_hex16(id, r.next());
      out.put(id);
      break;
    }
  }
}

template <class Sink>
void sim_event_generator::write_quoted_text(const plan& p, Sink& sink) const {
  if (!p.quoted) return;
  counted<Sink> out{sink};
  rng r{p.quoted_seed};
  if (r.per_mille(400)) {
    out.put(pick(short_phrases, r));
  } else {
    sentence(out, r, 2, 12);
  }
}

std::string message_id_of(uint64_t i) {
  std::string id = "SIM";
  append_hex16(id, i);
  return id;
}

std::string sim_event_generator::uid(uint64_t i) const {
  plan p = make_plan(i);
  const chat& c = chats_[p.chat];
  std::string out;
  out.reserve(c.id.size() + 20 + (c.is_group ? 40 : 0));
  out += c.id;
  out += ":SIM";
  append_hex16(out, i);
  if (c.is_group) {
    out += ':';
    out += contacts_[p.sender].jid;
  }
  return out;
}

nlohmann::json sim_event_generator::fields(uint64_t i, int64_t timestamp) const {
  using nlohmann::json;
  plan p = make_plan(i);
  const chat& c = chats_[p.chat];
  const contact& sender = contacts_[p.sender];
  std::string message_id = message_id_of(i);

  std::string body;
  plain_sink body_sink{body};
  write_body(p, body_sink);

  json mentioned = json::array();
  for (uint32_t k = 0; k < p.mention_count; ++k)
    mentioned.push_back(p.mentions[k] < 0 ? self_.jid
                                          : contacts_[static_cast<size_t>(p.mentions[k])].jid);

  json quoted_id = "";
  json quoted_participant = "";
  std::string quoted_text;
  if (p.quoted) {
    std::string qid = "3EB0";
    append_hex16(qid, p.quoted_id);
    quoted_id = qid;
    quoted_participant =
        p.quoted_who < 0 ? self_.jid : contacts_[static_cast<size_t>(p.quoted_who)].jid;
    plain_sink quoted_sink{quoted_text};
    write_quoted_text(p, quoted_sink);
  }

  json receipt{{"remoteJid", c.id}, {"id", message_id}, {"fromMe", false}};
  if (c.is_group) receipt["participant"] = sender.jid;

  return json{
      {"messageId", message_id},
      {"chatId", c.id},
      {"senderId", sender.jid},
      {"senderName", sender.name},
      {"chatName", c.name},
      {"isGroup", c.is_group},
      {"body", body},
      {"hasMedia", p.media != media_kind::none},
      {"mediaType", std::string(media_type_name(p.media))},
      {"mediaUrls", json::array()},
      {"mime", std::string(media_mime(p.media, p.doc))},
      {"fileName",
       p.media == media_kind::document ? std::string(documents[p.doc].file_name) : std::string()},
      {"mentionedIds", mentioned},
      {"quotedMessageId", quoted_id},
      {"quotedParticipant", quoted_participant},
      {"quotedText", quoted_text},
      {"hasQuotedMessage", p.quoted},
      {"botIds", json::array({self_.jid, self_lid_})},
      {"readReceiptKey", receipt},
      {"timestamp", timestamp},
  };
}

void sim_event_generator::append_event_line(uint64_t i, int64_t timestamp, upstream::origin from,
                                            std::string& out) const {
  plan p = make_plan(i);
  const chat& c = chats_[p.chat];
  const contact& sender = contacts_[p.sender];
  json_sink js{out};
  auto str = [&](std::string_view s) {
    out += '"';
    append_escaped(out, s);
    out += '"';
  };
  auto boolean = [&](bool b) { out += b ? "true" : "false"; };
  auto message_id = [&] {
    out += "\"SIM";
    append_hex16(out, i);
    out += '"';
  };

  // Keys in the order nlohmann::json (a std::map) dumps them: sorted bytewise.
  out += R"({"event":{"body":")";
  write_body(p, js);
  out += R"(","botIds":[)";
  str(self_.jid);
  out += ',';
  str(self_lid_);
  out += R"(],"chatId":)";
  str(c.id);
  out += R"(,"chatName":)";
  str(c.name);
  out += R"(,"fileName":)";
  str(p.media == media_kind::document ? documents[p.doc].file_name : std::string_view());
  out += R"(,"hasMedia":)";
  boolean(p.media != media_kind::none);
  out += R"(,"hasQuotedMessage":)";
  boolean(p.quoted);
  out += R"(,"isGroup":)";
  boolean(c.is_group);
  out += R"(,"mediaType":)";
  str(media_type_name(p.media));
  out += R"(,"mediaUrls":[],"mentionedIds":[)";
  for (uint32_t k = 0; k < p.mention_count; ++k) {
    if (k > 0) out += ',';
    str(p.mentions[k] < 0 ? self_.jid : contacts_[static_cast<size_t>(p.mentions[k])].jid);
  }
  out += R"(],"messageId":)";
  message_id();
  out += R"(,"mime":)";
  str(media_mime(p.media, p.doc));
  out += R"(,"quotedMessageId":")";
  if (p.quoted) {
    out += "3EB0";
    append_hex16(out, p.quoted_id);
  }
  out += R"(","quotedParticipant":)";
  str(!p.quoted                ? std::string_view()
      : p.quoted_who < 0 ? std::string_view(self_.jid)
                         : std::string_view(contacts_[static_cast<size_t>(p.quoted_who)].jid));
  out += R"(,"quotedText":")";
  write_quoted_text(p, js);
  out += R"(","readReceiptKey":{"fromMe":false,"id":)";
  message_id();
  if (c.is_group) {
    out += R"(,"participant":)";
    str(sender.jid);
  }
  out += R"(,"remoteJid":)";
  str(c.id);
  out += R"(},"senderId":)";
  str(sender.jid);
  out += R"(,"senderName":)";
  str(sender.name);
  out += R"(,"timestamp":)";
  append_int(out, timestamp);
  out += R"(},"origin":")";
  out += upstream::to_string(from);
  out += R"(","type":"event","uid":")";
  append_escaped(out, c.id);
  out += ":SIM";
  append_hex16(out, i);
  if (c.is_group) {
    out += ':';
    append_escaped(out, sender.jid);
  }
  out += "\"}\n";
}

std::optional<uint64_t> index_of_uid(std::string_view uid) {
  size_t colon = uid.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view rest = uid.substr(colon + 1);
  constexpr size_t id_len = 3 + 16;
  if (rest.size() < id_len || rest.substr(0, 3) != "SIM") return std::nullopt;
  if (rest.size() > id_len && (rest[id_len] != ':' || rest.size() == id_len + 1))
    return std::nullopt;
  uint64_t v = 0;
  for (size_t k = 3; k < id_len; ++k) {
    char ch = rest[k];
    uint64_t d;
    if (ch >= '0' && ch <= '9') {
      d = static_cast<uint64_t>(ch - '0');
    } else if (ch >= 'A' && ch <= 'F') {
      d = static_cast<uint64_t>(ch - 'A' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

}  // namespace wabridge::sim
