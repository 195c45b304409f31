// Receive our webhooks and verify them (Standard Webhooks), with Go's standard library.
// Run: WEBHOOK_SECRET=whsec_... PORT=8000 go run receive.go   (Go 1.18+)
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const tolerance = 5 * time.Minute

var (
	secret    []byte
	mu        sync.Mutex              // net/http serves requests concurrently
	processed = make(map[string]bool) // real code stores processed ids durably, e.g. in a unique column
)

// verificationProblem returns why the delivery is not genuine, or "" when it is.
func verificationProblem(header http.Header, body []byte) string {
	id, timestamp, signatures := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || timestamp == "" || signatures == "" {
		return "missing webhook-id, webhook-timestamp or webhook-signature header"
	}
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if age := time.Since(time.Unix(seconds, 0)); err != nil || age > tolerance || age < -tolerance {
		return "webhook-timestamp is more than 5 minutes from now"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	expected := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	for _, signature := range strings.Fields(signatures) { // two during a secret rotation: either may match
		version, value, _ := strings.Cut(signature, ",")
		if version == "v1" && hmac.Equal([]byte(value), expected) {
			return ""
		}
	}
	return "no signature matches"
}

// handle does your work: decode body (the event's JSON) with encoding/json, and so on.
func handle(body []byte) error {
	log.Printf("received %d bytes", len(body))
	return nil
}

func receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20)) // the raw bytes
	if r.Method != http.MethodPost || err != nil {
		http.Error(w, "POST a body of at most 1 MiB", http.StatusBadRequest)
		return
	}
	if problem := verificationProblem(r.Header, body); problem != "" {
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id") // the same on every retry and resend
	mu.Lock()
	defer mu.Unlock()
	if processed[id] {
		fmt.Fprint(w, "duplicate")
		return
	}
	if err := handle(body); err != nil {
		http.Error(w, "handling failed", http.StatusInternalServerError) // not marked processed: we retry
		return
	}
	processed[id] = true // only once handled
	fmt.Fprint(w, "ok")
}

func main() {
	var err error
	secret, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(os.Getenv("WEBHOOK_SECRET"), "whsec_"))
	if err != nil || len(secret) == 0 {
		log.Fatal("set WEBHOOK_SECRET to the webhook's signing secret (whsec_...)")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	http.HandleFunc("/webhooks", receive)
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
