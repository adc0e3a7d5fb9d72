// memberlist_node runs one hashicorp/memberlist (0.2.2, Debian's
// golang-github-hashicorp-memberlist-dev) member with the "local" profile and
// prints one JSON line per membership event to stdout, so that
// bench/membership/harness.py can compare it with pulsing's gossip_node.
//
//	memberlist_node --port P --name NAME [--seed host:port]... [--bind 127.0.0.1]
//
// Lines: {"event":"started|joined|left|updated|dead","peer":NAME,"alive":N,"t_ns":T}
// where alive counts the members this node sees alive (itself included) and
// t_ns is CLOCK_MONOTONIC in nanoseconds.
//
// memberlist reports both a graceful leave and a death through
// EventDelegate.NotifyLeave. In 0.2.2 the *Node it hands over carries a State
// field, but memberlist never writes it: its internal nodeState has its own
// State field that shadows Node.State, and only that one is updated. The field
// therefore always reads StateAlive (0) here, and we cannot tell a leave from a
// death: every NotifyLeave is printed as "dead" (unless Node.State ever says
// StateLeft, should a later version fill it in).
//
// Logs from memberlist go to stderr.
package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"golang.org/x/sys/unix"
)

type seedList []string

func (s *seedList) String() string     { return strings.Join(*s, ",") }
func (s *seedList) Set(v string) error { *s = append(*s, v); return nil }

func monoNs() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// printer serialises event lines; os.Stdout is unbuffered, so each line is a
// single write(2) and reaches the reader at once.
type printer struct {
	mu    sync.Mutex
	self  string
	alive map[string]bool // members seen alive, self included
}

func (p *printer) emit(event, peer string) {
	// The caller holds p.mu.
	line := `{"event":"` + event + `","peer":` + strconv.Quote(peer) +
		`,"alive":` + strconv.Itoa(len(p.alive)) +
		`,"t_ns":` + strconv.FormatInt(monoNs(), 10) + "}\n"
	os.Stdout.WriteString(line)
}

// EventDelegate. memberlist calls these with its node lock held, so they must
// not call back into the Memberlist (NumMembers would deadlock); the alive set
// is kept here instead.
func (p *printer) NotifyJoin(n *memberlist.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n.Name == p.self {
		return // our own alive state, set during Create; "started" covers it
	}
	p.alive[n.Name] = true
	p.emit("joined", n.Name)
}

func (p *printer) NotifyLeave(n *memberlist.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n.Name == p.self {
		return
	}
	delete(p.alive, n.Name)
	ev := "dead"
	if n.State == memberlist.StateLeft {
		ev = "left"
	}
	p.emit(ev, n.Name)
}

func (p *printer) NotifyUpdate(n *memberlist.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n.Name == p.self {
		return
	}
	p.emit("updated", n.Name)
}

func main() {
	port := flag.Int("port", 0, "UDP and TCP port to bind")
	name := flag.String("name", "", "node name (default: node-PORT)")
	bind := flag.String("bind", "127.0.0.1", "address to bind and advertise")
	var seeds seedList
	flag.Var(&seeds, "seed", "host:port of a member to join (repeatable)")
	key := flag.String("key", "", "64 hex digits: an AES-256 key for memberlist's keyring (gossip encrypted)")
	flag.Parse()
	if *port <= 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "memberlist_node: --port P is required")
		os.Exit(2)
	}
	if *name == "" {
		*name = "node-" + strconv.Itoa(*port)
	}

	p := &printer{self: *name, alive: map[string]bool{*name: true}}

	conf := memberlist.DefaultLocalConfig()
	conf.Name = *name
	conf.BindAddr = *bind
	conf.BindPort = *port
	conf.AdvertiseAddr = *bind
	conf.AdvertisePort = *port
	conf.Events = p
	conf.Logger = log.New(os.Stderr, *name+" ", log.LstdFlags|log.Lmicroseconds)
	if *key != "" {
		secret, err := hex.DecodeString(*key)
		if err != nil || len(secret) != 32 {
			fmt.Fprintln(os.Stderr, "memberlist_node: --key takes 64 hex digits")
			os.Exit(2)
		}
		conf.SecretKey = secret
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	ml, err := memberlist.Create(conf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "memberlist_node: create: %v\n", err)
		os.Exit(1)
	}
	p.mu.Lock()
	p.emit("started", *name)
	p.mu.Unlock()

	stop := func(code int) {
		ml.Leave(time.Second)
		ml.Shutdown()
		os.Exit(code)
	}

	if len(seeds) > 0 {
		for {
			n, err := ml.Join(seeds)
			if n > 0 {
				break
			}
			fmt.Fprintf(os.Stderr, "memberlist_node: join %v: %v; retrying\n", []string(seeds), err)
			select {
			case <-sigs:
				stop(0)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}

	<-sigs
	stop(0)
}
