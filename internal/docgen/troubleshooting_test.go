package docgen

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// minFixed is how long the longest fixed part of a message must be for
// the message to need a row of its own: shorter ones only wrap others
// ("cannot %s: %w") or name things ("waypoint %s/%s not found" is
// documented, but as part of the rows that explain it).
const minFixed = 15

// TestTroubleshootingCoversMessages requires every message the tool can
// print (scanMessages: errors, warnings and lines on stderr, built from
// literals, constants, Sprintf and the values they are made of) to be
// quoted in docs/troubleshooting.md: for each line of each message, a
// quote in backticks must match one of its forms, each … of the doc and
// each hole of the code standing for anything. Lines that need no row of
// their own (needsRow) are left out.
func TestTroubleshootingCoversMessages(t *testing.T) {
	root := filepath.Join("..", "..")
	doc := readTroubleshooting(t, root)
	msgs, err := scanMessages(root)
	if err != nil {
		t.Fatal(err)
	}
	quotes := doc.allQuotes()
	type line struct {
		pos   string
		index int
	}
	var order []line
	forms := map[line][]pattern{}
	for _, m := range msgs {
		if needsRow(m.pat) {
			l := line{m.pos, m.line}
			if forms[l] == nil {
				order = append(order, l)
			}
			forms[l] = append(forms[l], m.pat)
		}
	}
	for _, l := range order {
		documented := false
		for _, p := range forms[l] {
			if anyQuoteDocuments(quotes, p) {
				documented = true
				break
			}
		}
		if !documented {
			t.Errorf("%s: the message %q is not quoted in docs/troubleshooting.md: add it to a row's message column (… for the values filled in)%s", l.pos, forms[l][0], otherForms(forms[l]))
		}
	}
	if len(order) < 150 {
		t.Fatalf("found only %d messages: the scan is broken", len(order))
	}
	t.Logf("%d messages documented", len(order))
}

// otherForms names the other forms of a message, if any.
func otherForms(forms []pattern) string {
	if len(forms) == 1 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; or one of its other forms:")
	for _, f := range forms[1:] {
		b.WriteString("\n\t" + f.String())
	}
	return b.String()
}

// needsRow reports whether a message must be documented: its longest
// fixed part is minFixed long or more, and more than one word (a single
// word is a name a message quotes, not a message).
func needsRow(p pattern) bool {
	f := p.longestFixed()
	return len(f) >= minFixed && strings.Contains(f, " ")
}

// TestTroubleshootingMessagesExist is the reverse: every message quoted in
// the message column of docs/troubleshooting.md must match a message the
// code can print, or a part of one (quoteIsPart), so that a message
// changed or removed in the code cannot stay documented in its old words.
// Rows that say their message is "not from us" (kubectl's own) are left
// out.
func TestTroubleshootingMessagesExist(t *testing.T) {
	root := filepath.Join("..", "..")
	doc := readTroubleshooting(t, root)
	msgs, err := scanMessages(root)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, q := range doc.messageQuotes() {
		checked++
		found := false
		for _, m := range msgs {
			if quoteIsPart(q.text, m.pat) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/troubleshooting.md:%d (%s): %q matches no message of the code; update it to what the code prints now, or remove the row", q.line, q.section, q.text)
		}
	}
	if checked < 100 {
		t.Fatalf("found only %d documented messages: the doc's parsing is broken", checked)
	}
	t.Logf("%d documented messages found in the code", checked)
}

// TestQuoteMatching pins what a documented message matches: the code's
// holes stand for any value the doc gives, the doc's … for any text the
// code has, and nothing else differs; a quote may also be a part of a
// message (reverse), a message a part of a quote (forward).
func TestQuoteMatching(t *testing.T) {
	hole := pattern{{hole: true}}
	timedOut := literal("timed out after ").concat(hole).concat(literal(" waiting for waypoint ")).concat(hole).concat(literal(" to be ready"))
	quoted := literal(`namespace "`).concat(hole).concat(literal(`" not found`))
	denied := literal("waypoint ").concat(hole).concat(literal(" does not allow namespace ")).concat(hole).
		concat(literal(" to use it: its HBONE listener ")).concat(hole).concat(literal(" admits ")).concat(hole)
	wraps := hole.concat(literal(": ")).concat(hole)
	for _, c := range []struct {
		match func(string, pattern) bool
		quote string
		pat   pattern
		want  bool
	}{
		{quoteMatches, "timed out after … waiting for waypoint … to be ready", timedOut, true},
		{quoteMatches, "timed out after 5s waiting for waypoint default/waypoint to be ready", timedOut, true},
		{quoteMatches, "timed out after …: … of … waypoints not ready", timedOut, false},
		{quoteMatches, "timed out after … waiting for waypoint … to be programmed", timedOut, false},
		{quoteMatches, "namespace … not found", quoted, true},
		{quoteMatches, `namespace "…" not found`, quoted, true},
		{quoteMatches, "namespace … not found; pick another with -n", quoted, false},
		{quoteMatches, "… not found", quoted, true},
		// Reverse: a quote is the message, or a part of it.
		{quoteIsPart, "HBONE listener …", denied, true},
		{quoteIsPart, "waypoint … does not allow namespace … to use it: its … admits …", denied, true},
		{quoteIsPart, "waypoint … does not allow namespace … to use it: its HBONE listener admits …", denied, false},
		{quoteIsPart, "gateway … is of class …: left alone", wraps, false},
		// Forward: a message is a quote, or a part of one.
		{func(q string, p pattern) bool { return anyQuoteDocuments([]string{q}, p) }, "waypoint … does not allow namespace … to use it: its HBONE listener … admits …; to allow it, run:", denied, true},
		{func(q string, p pattern) bool { return anyQuoteDocuments([]string{q}, p) }, "waypoint … does not allow namespace … to use it: its … admits …", denied, true},
		{func(q string, p pattern) bool { return anyQuoteDocuments([]string{q}, p) }, "timed out after …: … of … waypoints not ready", timedOut, false},
	} {
		if got := c.match(c.quote, c.pat); got != c.want {
			t.Errorf("%q against %q: got %v, want %v", c.quote, c.pat, got, c.want)
		}
	}
}

// troubleshootingDoc is docs/troubleshooting.md, read.
type troubleshootingDoc struct {
	text string
}

// docQuote is a message quoted in a row of the doc.
type docQuote struct {
	text    string
	line    int
	section string
}

func readTroubleshooting(t *testing.T, root string) troubleshootingDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	return troubleshootingDoc{text: string(b)}
}

// quoteRE is a span in backticks.
var quoteRE = regexp.MustCompile("`([^`]+)`")

// allQuotes are the texts of every span in backticks that may be a
// message, wherever it is (a cause may quote the rest of a message).
func (d troubleshootingDoc) allQuotes() []string {
	var out []string
	for _, m := range quoteRE.FindAllStringSubmatch(d.text, -1) {
		if q := stripLevel(m[1]); isMessageQuote(q) {
			out = append(out, q)
		}
	}
	return out
}

// isMessageQuote reports whether a span in backticks may quote a message:
// three words or more, two of them fixed (shorter ones are a flag, or a
// word the message varies in such as `forbidden`; `…` alone is not one).
func isMessageQuote(q string) bool {
	return len(strings.Fields(q)) >= 3 && len(strings.Fields(strings.ReplaceAll(q, "…", " "))) >= 2
}

// messageQuotes are the messages quoted in the first column of the doc's
// tables (isMessageQuote).
func (d troubleshootingDoc) messageQuotes() []docQuote {
	var out []docQuote
	section := ""
	for i, line := range strings.Split(d.text, "\n") {
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
		}
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| --- ") || strings.HasPrefix(line, "| message ") {
			continue
		}
		cell := firstCell(line)
		if strings.Contains(cell, "not from us") {
			continue
		}
		for _, m := range quoteRE.FindAllStringSubmatch(cell, -1) {
			if q := stripLevel(m[1]); isMessageQuote(q) {
				out = append(out, docQuote{text: q, line: i + 1, section: section})
			}
		}
	}
	return out
}

// firstCell is the first cell of a table row: up to the first | that is
// not inside backticks (messages quote {a|b}).
func firstCell(row string) string {
	row = strings.TrimPrefix(row, "| ")
	in := false
	for i, r := range row {
		switch {
		case r == '`':
			in = !in
		case r == '|' && !in:
			return row[:i]
		}
	}
	return row
}

// stripLevel drops the "Warning: " or "error: " the tool prints before a
// message.
func stripLevel(q string) string {
	for _, p := range []string{"Warning: ", "warning: ", "error: "} {
		q = strings.TrimPrefix(q, p)
	}
	return q
}

// quoteIsPart reports whether a quote of the doc is a message the code
// can print or a part of one: the quote matches the message (quoteMatches)
// and the message holds minFixed characters of fixed text, or half of
// the quote's when that is less ("…: …", a message that wraps another,
// matches any quote with a colon and says nothing); or the quote's fixed
// text is all in the message, in order, with the quote's … standing for
// any text (a part the doc quotes on its own: "HBONE listener …").
func quoteIsPart(quote string, p pattern) bool {
	if quoteMatches(quote, p) && fixedLen(p.String()) >= min(minFixed, fixedLen(quote)/2) {
		return true
	}
	return quoteRegexp("…" + quote + "…").MatchString(p.String())
}

// anyQuoteDocuments reports whether some quote is the message, or holds
// it (a message given as the cause of another, a value a message quotes).
func anyQuoteDocuments(quotes []string, p pattern) bool {
	within := p.within()
	for _, q := range quotes {
		if quoteMatches(q, p) || within.MatchString(q) {
			return true
		}
	}
	return false
}

// fixedLen is how much of a text is not …, spaces or punctuation.
func fixedLen(s string) int {
	n := 0
	for _, r := range s {
		if r != '…' && !strings.ContainsRune(" :;,.()\"'", r) {
			n++
		}
	}
	return n
}

// quoteMatches reports whether a quote of the doc is the message p: the
// quote is one of p's texts (a hole of the code matches any value the doc
// shows, or its …), or p, its holes written …, is one of the quote's
// texts (a … of the doc matches any text of the code).
func quoteMatches(quote string, p pattern) bool {
	if p.regexp().MatchString(quote) {
		return true
	}
	return quoteRegexp(quote).MatchString(p.String())
}

// quoteRegexp matches the texts a quote stands for, each … anything.
func quoteRegexp(quote string) *regexp.Regexp {
	if re, ok := quoteREs[quote]; ok {
		return re
	}
	parts := strings.Split(quote, "…")
	for i, part := range parts {
		parts[i] = regexp.QuoteMeta(part)
	}
	re := regexp.MustCompile(`^(?s)` + strings.Join(parts, `.*`) + `$`)
	quoteREs[quote] = re
	return re
}

// quoteREs are the regexps of the quotes (tests of this package do not
// run in parallel).
var quoteREs = map[string]*regexp.Regexp{}
