// Command vcsim is forge's vCenter simulator for tests: govmomi's simulator model served over
// SOAP on loopback. Debian's golang-github-vmware-govmomi-dev (0.24) ships the simulator library
// but not its vcsim command, so scripts/test.sh builds this file offline, in GOPATH mode
// (GO111MODULE=off), into /var/tmp/forge-test-vcsim/vcsim; crates/forge-testkit/src/vcsim.rs
// starts it.
//
// It prints the SDK URL it listens on (https://127.0.0.1:PORT/sdk) as its first line on stdout
// and serves until SIGINT/SIGTERM or, with -stdin-eof, until its standard input closes (so a
// test process that dies takes its simulator with it).
//
// Beyond govmomi's model it stands in for VMware Tools: every powered-on VM with a NIC reports
// the -guest-ip address, so builders get past "Waiting for IP" and connect to a local sshd.
// It also serves govmomi's vAPI simulator under /rest (content libraries for
// content_library_destination).
// With -calls FILE it counts the SOAP requests it answers by method, rewriting FILE (a JSON
// object, method -> count) after each one, so tests can compare clients' round trips.
//
// govmomi 0.24's simulator does not implement VirtualMachine.PutUsbScanCodes (the console
// keyboard a boot command types on). With -keys FILE this command answers it itself: each key
// event of each call is appended to FILE as one JSON line (the VM's name and power state, the
// event's usbHidCode and its modifiers), and the answer is the number of events, as vSphere
// answers. What it does not model: the session is not checked (a call needs only a known VM),
// and a powered-off VM's keys are recorded rather than refused.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	// The vAPI REST endpoint (/rest: sessions, content libraries, VM and OVF templates),
	// which registers itself with every vCenter model.
	_ "github.com/vmware/govmomi/vapi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type options struct {
	listen    string
	username  string
	password  string
	plainHTTP bool
	esx       bool
	model     simulator.Model
	guestIP   string
	stdinEOF  bool
	once      bool
	calls     string
	keys      string
}

func parseFlags() *options {
	o := &options{}
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to listen on (port 0: a free port)")
	flag.StringVar(&o.username, "username", "user", "the user SessionManager.Login accepts")
	flag.StringVar(&o.password, "password", "pass", "that user's password")
	flag.BoolVar(&o.plainHTTP, "http", false, "serve plain HTTP instead of HTTPS with a self-signed certificate")
	flag.BoolVar(&o.esx, "esx", false, "simulate a standalone ESXi host instead of a vCenter")
	flag.IntVar(&o.model.Datacenter, "dc", 1, "datacenters")
	flag.IntVar(&o.model.Cluster, "cluster", 1, "clusters per datacenter")
	flag.IntVar(&o.model.ClusterHost, "cluster-host", 3, "hosts per cluster")
	flag.IntVar(&o.model.Host, "host", 1, "standalone hosts per datacenter")
	flag.IntVar(&o.model.Machine, "vm", 2, "VMs per resource pool (clone sources)")
	flag.IntVar(&o.model.Datastore, "ds", 1, "datastores")
	flag.IntVar(&o.model.Portgroup, "pg", 1, "distributed port groups per datacenter")
	flag.StringVar(&o.guestIP, "guest-ip", "127.0.0.1", "the guest IP every powered-on VM reports (empty: none)")
	flag.BoolVar(&o.stdinEOF, "stdin-eof", false, "exit when standard input reaches end of file")
	flag.BoolVar(&o.once, "once", false, "start, print the URL, then stop (a self-check)")
	flag.StringVar(&o.calls, "calls", "", "count the SOAP requests by method into this JSON file")
	flag.StringVar(&o.keys, "keys", "", "answer PutUsbScanCodes, recording its key events into this file (JSON lines)")
	flag.Parse()
	return o
}

// newModel is govmomi's VPX (or ESX) inventory with the counts asked for.
func newModel(o *options) *simulator.Model {
	var m *simulator.Model
	if o.esx {
		m = simulator.ESX()
	} else {
		m = simulator.VPX()
		m.Datacenter = o.model.Datacenter
		m.Cluster = o.model.Cluster
		m.ClusterHost = o.model.ClusterHost
		m.Host = o.model.Host
		m.Portgroup = o.model.Portgroup
	}
	m.Machine = o.model.Machine
	m.Datastore = o.model.Datastore
	m.Autostart = true
	return m
}

func main() {
	o := parseFlags()
	m := newModel(o)
	if err := m.Create(); err != nil {
		log.Fatalf("vcsim: creating the inventory: %v", err)
	}
	m.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.username, o.password)}
	if !o.plainHTTP {
		m.Service.TLS = new(tls.Config)
	}
	if o.calls != "" {
		// The simulator traces each request as one "Request: <envelope>" write.
		r, w, err := os.Pipe()
		if err != nil {
			log.Fatalf("vcsim: %v", err)
		}
		simulator.Trace = true
		simulator.TraceFile = w
		go countCalls(r, o.calls)
	}
	// Serves the endpoints that register themselves, the vAPI one among them.
	m.Service.RegisterEndpoints = true
	server := m.Service.NewServer()
	if o.keys != "" {
		// Before the URL is printed: no client can have connected yet.
		server.Config.Handler = usbScanCodes(server.Config.Handler, o.keys)
	}
	sdk := *server.URL
	sdk.User = nil
	fmt.Println(sdk.String())
	os.Stdout.Sync()

	if !o.once {
		if o.guestIP != "" {
			go standInForTools(o.guestIP, 250*time.Millisecond)
		}
		waitForStop(o.stdinEOF)
	}
	server.Close()
	m.Remove()
}

// waitForStop returns on SIGINT or SIGTERM, or when stdin closes if stdinEOF is set.
func waitForStop(stdinEOF bool) {
	stop := make(chan struct{}, 2)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-signals; stop <- struct{}{} }()
	if stdinEOF {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop <- struct{}{}
		}()
	}
	<-stop
}

// standInForTools polls the inventory and gives every powered-on VM that has NICs the guest
// IP that VMware Tools would report, with the tools shown as running.
func standInForTools(ip string, every time.Duration) {
	for range time.Tick(every) {
		for _, ref := range simulator.Map.All("VirtualMachine") {
			if vm, ok := ref.(*simulator.VirtualMachine); ok {
				simulator.Map.WithLock(vm, func() { reportGuestIP(vm, ip) })
			}
		}
	}
}

// reportGuestIP sets vm's guest IP (once; the caller holds vm's lock).
func reportGuestIP(vm *simulator.VirtualMachine, ip string) {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || vm.Guest == nil {
		return
	}
	nics := vm.Guest.Net
	if len(nics) == 0 || (vm.Guest.IpAddress == ip && nics[0].IpConfig != nil) {
		return
	}
	for i := range nics {
		nics[i].IpAddress = []string{ip}
		nics[i].IpConfig = &types.NetIpConfigInfo{IpAddress: []types.NetIpConfigInfoIpAddress{
			{IpAddress: ip, PrefixLength: 8, State: string(types.NetIpConfigInfoIpAddressStatusPreferred)},
		}}
	}
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "guest.net", Val: nics},
		{Name: "guest.ipAddress", Val: ip},
		{Name: "summary.guest.ipAddress", Val: ip},
		{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
		{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)},
	})
	log.Printf("vcsim: %s reports guest IP %s on %d NIC(s)", vm.Name, ip, len(nics))
}

// countCalls reads the simulator's trace ("Request: <envelope>" then "Response: ..." per call)
// and keeps a count of requests by SOAP method in the JSON file at path.
func countCalls(trace io.Reader, path string) {
	counts := map[string]int{}
	in := bufio.NewReaderSize(trace, 1<<20)
	var pending []byte // a request's text, until its method is seen
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			switch {
			case bytes.HasPrefix(line, []byte("Request: ")):
				pending = append([]byte{}, line...)
			case bytes.HasPrefix(line, []byte("Response: ")):
				pending = nil
			case pending != nil:
				pending = append(pending, line...)
			}
			if method, ok := soapMethod(pending); ok {
				counts[method]++
				pending = nil
				out, _ := json.Marshal(counts)
				if os.WriteFile(path+".new", out, 0o644) == nil {
					_ = os.Rename(path+".new", path)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// soapMethod is the local name of the first element inside the envelope's Body.
func soapMethod(req []byte) (string, bool) {
	i := bytes.Index(req, []byte("Body>"))
	if i < 0 {
		return "", false
	}
	body := req[i+len("Body>"):]
	j := bytes.IndexByte(body, '<')
	if j < 0 {
		return "", false
	}
	name := body[j+1:]
	k := bytes.IndexAny(name, " />\r\n\t")
	if k < 0 {
		return "", false
	}
	name = name[:k]
	if c := bytes.IndexByte(name, ':'); c >= 0 {
		name = name[c+1:]
	}
	return string(name), true
}

// putUsbScanCodes is the part of a PutUsbScanCodes request this command reads.
type putUsbScanCodes struct {
	Body struct {
		Put *struct {
			This types.ManagedObjectReference `xml:"_this"`
			Spec struct {
				KeyEvents []struct {
					UsbHidCode int32 `xml:"usbHidCode"`
					Modifiers  *struct {
						LeftControl  *bool `xml:"leftControl"`
						LeftShift    *bool `xml:"leftShift"`
						LeftAlt      *bool `xml:"leftAlt"`
						LeftGui      *bool `xml:"leftGui"`
						RightControl *bool `xml:"rightControl"`
						RightShift   *bool `xml:"rightShift"`
						RightAlt     *bool `xml:"rightAlt"`
						RightGui     *bool `xml:"rightGui"`
					} `xml:"modifiers"`
				} `xml:"keyEvents"`
			} `xml:"spec"`
		} `xml:"PutUsbScanCodes"`
	} `xml:"Body"`
}

// usbScanCodes answers PutUsbScanCodes requests to /sdk, appending their key events to path,
// and hands every other request to next.
func usbScanCodes(next http.Handler, path string) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/sdk" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !bytes.Contains(body, []byte("PutUsbScanCodes")) {
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}
		if simulator.Trace {
			fmt.Fprintf(simulator.TraceFile, "Request: %s\n", string(body))
		}
		var req putUsbScanCodes
		if err := xml.Unmarshal(body, &req); err != nil || req.Body.Put == nil {
			soapFault(w, fmt.Sprintf("PutUsbScanCodes: unreadable request: %v", err), "InvalidRequest", "")
			return
		}
		put := req.Body.Put
		vm, ok := simulator.Map.Get(put.This).(*simulator.VirtualMachine)
		if !ok {
			soapFault(w, fmt.Sprintf("managed object not found: %s", put.This),
				"ManagedObjectNotFound", fmt.Sprintf(`<obj type="%s">%s</obj>`, put.This.Type, put.This.Value))
			return
		}
		var name, power string
		simulator.Map.WithLock(vm, func() {
			name = vm.Name
			power = string(vm.Runtime.PowerState)
		})
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			soapFault(w, err.Error(), "SystemError", "")
			return
		}
		defer f.Close()
		enc := json.NewEncoder(f)
		for _, e := range put.Spec.KeyEvents {
			rec := map[string]interface{}{"vm": name, "power": power, "usbHidCode": e.UsbHidCode}
			if m := e.Modifiers; m != nil {
				for k, v := range map[string]*bool{
					"leftControl": m.LeftControl, "leftShift": m.LeftShift, "leftAlt": m.LeftAlt,
					"leftGui": m.LeftGui, "rightControl": m.RightControl,
					"rightShift": m.RightShift, "rightAlt": m.RightAlt, "rightGui": m.RightGui,
				} {
					if v != nil {
						rec[k] = *v
					}
				}
			}
			_ = enc.Encode(rec)
		}
		out := fmt.Sprintf(`%s<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">`+
			`<soapenv:Body><PutUsbScanCodesResponse xmlns="urn:vim25"><returnval>%d</returnval>`+
			`</PutUsbScanCodesResponse></soapenv:Body></soapenv:Envelope>`, xml.Header, len(put.Spec.KeyEvents))
		if simulator.Trace {
			fmt.Fprintf(simulator.TraceFile, "Response: %s\n", out)
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = io.WriteString(w, out)
	})
}

// soapFault answers a SOAP fault whose detail is the vim25 fault type with inner XML.
func soapFault(w http.ResponseWriter, msg, fault, inner string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(msg))
	fmt.Fprintf(w, `%s<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" `+
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>`+
		`<faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring><detail>`+
		`<%sFault xmlns="urn:vim25" xsi:type="%s">%s</%sFault></detail></soapenv:Fault>`+
		`</soapenv:Body></soapenv:Envelope>`, xml.Header, esc.String(), fault, fault, inner, fault)
}
