// peer.go: the plain-Go reference server of h2push's benchmarks (bench/peers.sh start go).
// Standard library only.
//
//	GET  /                 103 Early Hints for /style.css and /app.js, pushes them where the
//	                       client allows push (http.Pusher), then SITE/index.html
//	GET  /events?topic=T   server-sent events: every event published to T from now on
//	GET  /events           three "tick" events 100 ms apart, then the end
//	POST /publish          form fields topic and data: sends the event to T's subscribers
//	                       and answers {"id":N}
//	anything else          a file of SITE
//
// Fan-out is the simple Go design: one goroutine per subscriber (its request handler) reading
// a channel of 64 events; the publisher takes the hub's lock, numbers the event and offers it
// to every channel, dropping it for a subscriber whose channel is full.
//
// Environment: PEER_ADDR (host:port), PEER_SITE, PEER_CERT, PEER_KEY.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

var hints = []string{"/style.css", "/app.js"}

type topicHub struct {
	sync.Mutex
	lastID int
	topics map[string]map[chan []byte]bool
}

func (h *topicHub) join(topic string) chan []byte {
	c := make(chan []byte, 64)
	h.Lock()
	defer h.Unlock()
	if h.topics[topic] == nil {
		h.topics[topic] = make(map[chan []byte]bool)
	}
	h.topics[topic][c] = true
	return c
}

func (h *topicHub) leave(topic string, c chan []byte) {
	h.Lock()
	defer h.Unlock()
	delete(h.topics[topic], c)
	if len(h.topics[topic]) == 0 {
		delete(h.topics, topic)
	}
}

// send numbers an event, frames it once, and offers it to each subscriber of topic.
func (h *topicHub) send(topic, data string) int {
	h.Lock()
	defer h.Unlock()
	h.lastID++
	var frame strings.Builder
	fmt.Fprintf(&frame, "id: %d\n", h.lastID)
	for _, line := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
		frame.WriteString("data: " + line + "\n")
	}
	frame.WriteString("\n")
	event := []byte(frame.String())
	for c := range h.topics[topic] {
		select {
		case c <- event:
		default: // this subscriber is 64 events behind: it misses this one
		}
	}
	return h.lastID
}

func main() {
	site, addr := os.Getenv("PEER_SITE"), os.Getenv("PEER_ADDR")
	if site == "" || addr == "" {
		log.Fatal("set PEER_ADDR, PEER_SITE, PEER_CERT and PEER_KEY")
	}
	hub := &topicHub{topics: make(map[string]map[chan []byte]bool)}
	static := http.FileServer(http.Dir(site))
	mux := http.NewServeMux()

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Add("Link", "<"+hints[0]+">; rel=preload; as=style")
			w.Header().Add("Link", "<"+hints[1]+">; rel=preload; as=script")
			w.WriteHeader(http.StatusEarlyHints)
			if pusher, ok := w.(http.Pusher); ok {
				for _, path := range hints {
					if err := pusher.Push(path, nil); err != nil && err != http.ErrNotSupported {
						log.Printf("push %s: %v", path, err)
					}
				}
			}
		}
		static.ServeHTTP(w, r)
	})

	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		flush := w.(http.Flusher).Flush
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		topic := r.URL.Query().Get("topic")
		if topic == "" {
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "id: %d\ndata: tick %d\n\n", i, i)
				flush()
				time.Sleep(100 * time.Millisecond)
			}
			return
		}
		events := hub.join(topic)
		defer hub.leave(topic, events)
		fmt.Fprint(w, ": subscribed\n\n")
		flush()
		keepAlive := time.NewTicker(15 * time.Second)
		defer keepAlive.Stop()
		for {
			select {
			case event := <-events:
				w.Write(event)
				flush()
			case <-keepAlive.C:
				fmt.Fprint(w, ":\n\n")
				flush()
			case <-r.Context().Done():
				return
			}
		}
	})

	mux.HandleFunc("/publish", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST the form fields topic and data", http.StatusMethodNotAllowed)
			return
		}
		id := hub.send(r.FormValue("topic"), r.FormValue("data"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"id\":%d}\n", id)
	})

	log.Printf("peer.go on https://%s/ serving %s", addr, site)
	log.Fatal(http.ListenAndServeTLS(addr, os.Getenv("PEER_CERT"), os.Getenv("PEER_KEY"), mux))
}
