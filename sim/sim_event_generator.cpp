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
  tag_corpus = 5,
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
    "Ana",    "José",   "Zoë",      "Łukasz",  "Chiamaka", "Priya",    "Björn", "Mehmet",
    "Yuki",   "Kwame",  "François", "Siobhán", "Ngozi",    "Dmitri",   "Mei",   "Aarav",
    "Fatima", "Liam",   "Sofia",    "Mateo",   "Chloé",    "Ingrid",   "Hana",  "Rafael",
    "Amara",  "Tomás",  "Elif",     "Noah",    "Leila",    "Olusegun", "Marta", "Jonas",
    "Aiko",   "Carlos", "Nadia",    "Pedro",   "Sara",     "Ahmed",    "Lucía", "Emma"};

constexpr std::string_view last_names[] = {
    "Silva",  "Okafor", "Müller",   "Kowalski", "Sharma", "Andersson", "Yılmaz",  "Tanaka",
    "Mensah", "Dubois", "O'Connor", "Ivanova",  "Chen",   "Patel",     "Haddad",  "Smith",
    "Rossi",  "García", "Nakamura", "Costa",    "Novak",  "Ferreira",  "Adeyemi", "Lindqvist",
    "Kim",    "Santos", "Bianchi",  "Nguyen",   "Moreau", "Schmidt"};

constexpr std::string_view name_suffixes[] = {" 🌸",   " ✨", " 🇧🇷", " (work)", " 🏳️‍🌈",
                                              " 🙂"};

constexpr std::string_view group_names[] = {"Family",
                                            "Climbing crew 🧗",
                                            "Project Atlas",
                                            "Book club 📚",
                                            "Flatmates",
                                            "Football Sunday ⚽",
                                            "Design review",
                                            "Parents of 3B",
                                            "Weekend trip",
                                            "Dev team",
                                            "Neighbours",
                                            "Choir rehearsals",
                                            "Founders 🚀",
                                            "Running club 🏃",
                                            "Uni friends",
                                            "Garden allotment",
                                            "Grupo da praia 🏖️",
                                            "Ops on-call",
                                            "Wedding planning 💍",
                                            "Chess club"};

constexpr std::string_view vocabulary[] = {
    "the",      "a",        "and",        "to",       "of",      "in",        "is",      "it",
    "you",      "that",     "we",         "for",      "on",      "with",      "this",    "are",
    "be",       "at",       "have",       "not",      "can",     "just",      "so",      "but",
    "what",     "all",      "if",         "about",    "will",    "get",       "time",    "think",
    "know",     "see",      "today",      "tomorrow", "meeting", "later",     "dinner",  "train",
    "message",  "call",     "photo",      "weekend",  "morning", "tonight",   "ticket",  "office",
    "coffee",   "please",   "thanks",     "maybe",    "sure",    "really",    "great",   "late",
    "early",    "house",    "kids",       "school",   "doctor",  "shop",      "bring",   "forgot",
    "sorry",    "ready",    "leaving",    "arrived",  "here",    "there",     "again",   "still",
    "already",  "check",    "send",       "document", "update",  "deploy",    "release", "review",
    "budget",   "invoice",  "flight",     "hotel",    "address", "parking",   "rain",    "sunny",
    "birthday", "cake",     "gift",       "party",    "match",   "score",     "lol",     "tbh",
    "ok",       "yes",      "no",         "maybe",    "café",    "naïve",     "über",    "você",
    "mañana",   "obrigado", "danke",      "merci",    "😂",       "👍",         "🙏",       "❤️",
    "🎉",        "🔥",        "\"quoted\"", "C:\\temp", "50%",     "<b>",       "&",       "it's",
    "3pm",      "10:30",    "#42",        "v2.1",     "e-mail",  "follow-up", "ASAP",    "FYI"};

constexpr std::string_view endings[] = {".", ".", ".", "!", "?", "", " 😂", "...", "!!", " 🙂"};

constexpr std::string_view short_phrases[] = {"ok",
                                              "👍",
                                              "on my way",
                                              "lol",
                                              "sure",
                                              "thanks!",
                                              "can you call me?",
                                              "see you at 5",
                                              "haha",
                                              "yes",
                                              "no worries",
                                              "I'm here",
                                              "running late, 10 min",
                                              "good morning ☀️",
                                              "did you see this?",
                                              "🙏",
                                              "sounds good",
                                              "brb",
                                              "what time?",
                                              "ok 👌",
                                              "done ✅",
                                              "Happy birthday!! 🎂",
                                              "where are you?",
                                              "k"};

constexpr std::string_view link_hosts[] = {"https://example.com/a/", "https://docs.example.org/d/",
                                           "https://youtu.be/", "https://maps.example.net/?q="};

struct country {
  std::string_view code;
  int national_digits;
};
constexpr country countries[] = {{"1", 10},  {"44", 10},  {"49", 11}, {"55", 11},
                                 {"91", 10}, {"234", 10}, {"351", 9}, {"33", 9},
                                 {"34", 9},  {"52", 10},  {"81", 10}, {"62", 11}};

enum class media_kind : uint8_t { none, image, video, audio, ptt, document, sticker };

constexpr std::string_view media_type_name(media_kind k) {
  switch (k) {
    case media_kind::none:
      return "";
    case media_kind::image:
      return "image";
    case media_kind::video:
      return "video";
    case media_kind::audio:
      return "audio";
    case media_kind::ptt:
      return "ptt";
    case media_kind::document:
      return "document";
    case media_kind::sticker:
      return "sticker";
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
    case media_kind::none:
      return "";
    case media_kind::image:
      return "image/jpeg";
    case media_kind::video:
      return "video/mp4";
    case media_kind::audio:
      return "audio/mpeg";
    case media_kind::ptt:
      return "audio/ogg; codecs=opus";
    case media_kind::document:
      return documents[doc].mime;
    case media_kind::sticker:
      return "image/webp";
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

// Appends to a std::string through a raw pointer: the fast path writes ~1 KB
// per event in ~150 small pieces, and std::string::append's out-of-line
// capacity check per piece cost more than the text generation itself.
class line_writer {
 public:
  explicit line_writer(std::string& out) : out_(out), len_(out.size()) {}
  ~line_writer() { out_.resize(len_); }
  line_writer(const line_writer&) = delete;
  line_writer& operator=(const line_writer&) = delete;

  void raw(std::string_view s) {
    char* p = room(s.size());
    std::memcpy(p, s.data(), s.size());
    len_ += s.size();
  }

  void raw(char c) { *room(1) = c, ++len_; }

  // Escapes exactly as nlohmann::json::dump(-1, ' ', false) does: '"', '\\',
  // the short escapes, other control bytes as \u00xx (lowercase hex), and
  // everything else, including UTF-8 and 0x7f, verbatim.
  void escaped(std::string_view s) {
    char* p = room(s.size() * 6);  // worst case: every byte becomes \u00xx
    char* const begin = p;
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      if (c >= 0x20 && c != '"' && c != '\\') {
        *p++ = ch;
        continue;
      }
      *p++ = '\\';
      switch (c) {
        case '"':
          *p++ = '"';
          break;
        case '\\':
          *p++ = '\\';
          break;
        case '\b':
          *p++ = 'b';
          break;
        case '\f':
          *p++ = 'f';
          break;
        case '\n':
          *p++ = 'n';
          break;
        case '\r':
          *p++ = 'r';
          break;
        case '\t':
          *p++ = 't';
          break;
        default: {
          static constexpr char hex[] = "0123456789abcdef";
          *p++ = 'u';
          *p++ = '0';
          *p++ = '0';
          *p++ = hex[c >> 4];
          *p++ = hex[c & 0xf];
        }
      }
    }
    len_ += static_cast<size_t>(p - begin);
  }

  void quoted(std::string_view s) {
    raw('"');
    escaped(s);
    raw('"');
  }

  void hex16(uint64_t v) {
    static constexpr char hex[] = "0123456789ABCDEF";
    char* p = room(16);
    for (int k = 15; k >= 0; --k) {
      p[k] = hex[v & 0xf];
      v >>= 4;
    }
    len_ += 16;
  }

  void integer(int64_t v) {
    char* p = room(24);
    auto res = std::to_chars(p, p + 24, v);
    len_ += static_cast<size_t>(res.ptr - p);
  }

 private:
  // Pointer to at least n writable bytes at the end. Grows the size in small
  // steps (resize() zero-fills what it adds; the capacity still grows
  // geometrically inside std::string), and the destructor trims the slack.
  char* room(size_t n) {
    if (len_ + n > out_.size()) out_.resize(len_ + n + 2048);
    return out_.data() + len_;
  }

  std::string& out_;
  size_t len_;
};

// Counts what the text generators wrote, so a body can stop near a target length.

void append_hex16(std::string& out, uint64_t v) {
  static constexpr char hex[] = "0123456789ABCDEF";
  char buf[16];
  for (int k = 15; k >= 0; --k) {
    buf[k] = hex[v & 0xf];
    v >>= 4;
  }
  out.append(buf, sizeof buf);
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

// Sinks receive text two ways: arbitrary strings (put) and runs of corpus
// words (put_words), which the JSON sink copies pre-escaped.
struct plain_words_sink {
  std::string& out;
  const sim_event_generator::corpus& text;
  void put(std::string_view s) { out.append(s); }
  void put_words(uint32_t a, uint32_t b);
};

struct json_words_sink {
  line_writer& out;
  const sim_event_generator::corpus& text;
  void put(std::string_view s) { out.escaped(s); }
  void put_words(uint32_t a, uint32_t b);
};

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

// ---- the text corpus ------------------------------------------------------------

struct sim_event_generator::corpus {
  std::string raw;  // sentences of words, separated by ' ' or '\n'
  std::string esc;  // the same text, JSON-escaped
  // Word k is raw[raw_begin[k], raw_end[k]) and esc[esc_begin[k], esc_end[k]).
  std::vector<uint32_t> raw_begin, raw_end, esc_begin, esc_end;
  std::vector<uint32_t> sentences;  // first word of each sentence, then words() as a sentinel

  uint32_t words() const { return static_cast<uint32_t>(raw_begin.size()); }
  uint32_t sentence_count() const { return static_cast<uint32_t>(sentences.size() - 1); }
  // Raw bytes of words [a, b), b > a, separators included.
  uint32_t raw_length(uint32_t a, uint32_t b) const { return raw_end[b - 1] - raw_begin[a]; }

  static corpus build(uint64_t seed, size_t min_bytes) {
    corpus c;
    rng r{seed};
    auto add = [&](std::string_view token) {
      c.raw_begin.push_back(static_cast<uint32_t>(c.raw.size()));
      c.esc_begin.push_back(static_cast<uint32_t>(c.esc.size()));
      c.raw += token;
      {
        line_writer w{c.esc};
        w.escaped(token);
      }
      c.raw_end.push_back(static_cast<uint32_t>(c.raw.size()));
      c.esc_end.push_back(static_cast<uint32_t>(c.esc.size()));
    };
    auto separator = [&](std::string_view sep) {
      c.raw += sep;
      line_writer w{c.esc};
      w.escaped(sep);
    };
    std::string token;
    while (c.raw.size() < min_bytes) {
      if (!c.sentences.empty()) separator(r.per_mille(250) ? "\n" : " ");
      c.sentences.push_back(c.words());
      uint32_t n = 3 + r.below(18);
      for (uint32_t k = 0; k < n; ++k) {
        if (k > 0) separator(" ");
        token.assign(pick(vocabulary, r));
        if (k == 0 && token[0] >= 'a' && token[0] <= 'z')
          token[0] = static_cast<char>(token[0] - 'a' + 'A');
        if (k + 1 == n) token += pick(endings, r);
        add(token);
      }
    }
    c.sentences.push_back(c.words());
    return c;
  }
};

namespace {

void plain_words_sink::put_words(uint32_t a, uint32_t b) {
  out.append(text.raw, text.raw_begin[a], text.raw_length(a, b));
}

void json_words_sink::put_words(uint32_t a, uint32_t b) {
  out.raw(std::string_view(text.esc).substr(text.esc_begin[a],
                                            text.esc_end[b - 1] - text.esc_begin[a]));
}

// Counts the raw bytes written, so a body can stop near a target length.
template <class Sink>
struct counted {
  Sink& sink;
  const sim_event_generator::corpus& text;
  size_t written = 0;
  void put(std::string_view s) {
    sink.put(s);
    written += s.size();
  }
  void put_words(uint32_t a, uint32_t b) {
    sink.put_words(a, b);
    written += text.raw_length(a, b);
  }
  void sentence(rng& r) {
    uint32_t k = r.below(text.sentence_count());
    put_words(text.sentences[k], text.sentences[k + 1]);
  }
  // `n` consecutive sentences, with the corpus's own spaces and newlines.
  void sentences(rng& r, uint32_t n) {
    uint32_t k = r.below(text.sentence_count());
    uint32_t last = std::min(k + n, text.sentence_count());
    put_words(text.sentences[k], text.sentences[last]);
  }
  // Text from a random sentence onwards until `target` bytes are written,
  // wrapping around the corpus when it is shorter than the target.
  void fill_to(rng& r, size_t target) {
    uint32_t a = text.sentences[r.below(text.sentence_count())];
    while (written < target) {
      size_t need = target - written;
      // First word whose end reaches `need` bytes past a's start.
      auto goal = static_cast<uint64_t>(text.raw_begin[a]) + need;
      auto it = std::lower_bound(text.raw_end.begin() + a, text.raw_end.end(), goal,
                                 [](uint32_t end, uint64_t g) { return end < g; });
      if (it != text.raw_end.end()) {
        put_words(a, static_cast<uint32_t>(it - text.raw_end.begin()) + 1);
        return;
      }
      put_words(a, text.words());
      put(" ");
      a = 0;
    }
  }
};

}  // namespace

sim_event_generator::sim_event_generator(generator_options options) : options_(std::move(options)) {
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

  // Big enough that bodies rarely repeat and a body never wraps more than
  // about once; capped so an absurd body_bytes cannot eat memory (bodies wrap).
  size_t corpus_bytes = std::clamp<size_t>(size_t{2} * options_.body_bytes, 256u << 10, 64u << 20);
  corpus_ =
      std::make_shared<const corpus>(corpus::build(derive(key_, tag_corpus, 0), corpus_bytes));

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
  counted<Sink> out{sink, *corpus_};
  rng r{p.body_seed};
  for (uint32_t k = 0; k < p.mention_count; ++k) {
    out.put("@");
    out.put(p.mentions[k] < 0 ? self_.digits
                              : contacts_[static_cast<size_t>(p.mentions[k])].digits);
    out.put(" ");
  }
  if (options_.body_bytes > 0) {
    out.fill_to(r, p.body_target);
    return;
  }
  if (p.media != media_kind::none) {
    if (p.caption) out.sentence(r);
    return;
  }
  switch (p.body_kind) {
    case 0:
      if (p.mention_count > 0) {
        out.sentence(r);
      } else {
        out.put(pick(short_phrases, r));
      }
      break;
    case 1:
      out.sentence(r);
      break;
    case 2:
      out.sentences(r, 2 + r.below(3));
      break;
    case 3: {
      // A long multi-line text: lines, some blank-separated, some bulleted.
      uint32_t lines = 3 + r.below(8);
      bool bullets = r.per_mille(300);
      for (uint32_t k = 0; k < lines; ++k) {
        if (k > 0) out.put(r.per_mille(200) ? "\n\n" : "\n");
        if (bullets) out.put("- ");
        out.sentence(r);
      }
      break;
    }
    default: {
      out.sentence(r);
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
  counted<Sink> out{sink, *corpus_};
  rng r{p.quoted_seed};
  if (r.per_mille(400)) {
    out.put(pick(short_phrases, r));
  } else {
    out.sentence(r);
  }
}

std::string message_id_of(uint64_t i) {
  std::string id = "SIM";
  append_hex16(id, i);
  return id;
}

nlohmann::json sim_event_generator::chat_info(const std::string& chat_id) const {
  for (const auto& c : chats_) {
    if (c.id != chat_id) continue;
    nlohmann::json participants = nlohmann::json::array();
    if (c.is_group) {
      for (uint32_t m : c.members) participants.push_back(contacts_[m].jid);
      participants.push_back(self_.jid);
    }
    return nlohmann::json{
        {"name", c.name}, {"isGroup", c.is_group}, {"participants", participants}};
  }
  return nullptr;
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
  plain_words_sink body_sink{body, *corpus_};
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
    plain_words_sink quoted_sink{quoted_text, *corpus_};
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
  line_writer w{out};
  json_words_sink js{w, *corpus_};
  auto boolean = [&](bool b) { w.raw(b ? std::string_view("true") : std::string_view("false")); };
  auto message_id = [&] {
    w.raw("\"SIM");
    w.hex16(i);
    w.raw('"');
  };

  // Keys in the order nlohmann::json (a std::map) dumps them: sorted bytewise.
  w.raw(R"({"event":{"body":")");
  write_body(p, js);
  w.raw(R"(","botIds":[)");
  w.quoted(self_.jid);
  w.raw(',');
  w.quoted(self_lid_);
  w.raw(R"(],"chatId":)");
  w.quoted(c.id);
  w.raw(R"(,"chatName":)");
  w.quoted(c.name);
  w.raw(R"(,"fileName":)");
  w.quoted(p.media == media_kind::document ? documents[p.doc].file_name : std::string_view());
  w.raw(R"(,"hasMedia":)");
  boolean(p.media != media_kind::none);
  w.raw(R"(,"hasQuotedMessage":)");
  boolean(p.quoted);
  w.raw(R"(,"isGroup":)");
  boolean(c.is_group);
  w.raw(R"(,"mediaType":)");
  w.quoted(media_type_name(p.media));
  w.raw(R"(,"mediaUrls":[],"mentionedIds":[)");
  for (uint32_t k = 0; k < p.mention_count; ++k) {
    if (k > 0) w.raw(',');
    w.quoted(p.mentions[k] < 0 ? self_.jid : contacts_[static_cast<size_t>(p.mentions[k])].jid);
  }
  w.raw(R"(],"messageId":)");
  message_id();
  w.raw(R"(,"mime":)");
  w.quoted(media_mime(p.media, p.doc));
  w.raw(R"(,"quotedMessageId":")");
  if (p.quoted) {
    w.raw("3EB0");
    w.hex16(p.quoted_id);
  }
  w.raw(R"(","quotedParticipant":)");
  w.quoted(!p.quoted          ? std::string_view()
           : p.quoted_who < 0 ? std::string_view(self_.jid)
                              : std::string_view(contacts_[static_cast<size_t>(p.quoted_who)].jid));
  w.raw(R"(,"quotedText":")");
  write_quoted_text(p, js);
  w.raw(R"(","readReceiptKey":{"fromMe":false,"id":)");
  message_id();
  if (c.is_group) {
    w.raw(R"(,"participant":)");
    w.quoted(sender.jid);
  }
  w.raw(R"(,"remoteJid":)");
  w.quoted(c.id);
  w.raw(R"(},"senderId":)");
  w.quoted(sender.jid);
  w.raw(R"(,"senderName":)");
  w.quoted(sender.name);
  w.raw(R"(,"timestamp":)");
  w.integer(timestamp);
  w.raw(R"(},"origin":")");
  w.raw(upstream::to_string(from));
  w.raw(R"(","type":"event","uid":")");
  w.escaped(c.id);
  w.raw(":SIM");
  w.hex16(i);
  if (c.is_group) {
    w.raw(':');
    w.escaped(sender.jid);
  }
  w.raw("\"}\n");
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
