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
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
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
