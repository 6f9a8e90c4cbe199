use super::*;
use proptest::prelude::*;

const SRC4: [u8; 4] = [10, 9, 0, 1];
const DST4: [u8; 4] = [10, 9, 0, 2];
const SRC6: [u8; 16] = [0xfd, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0xfd, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// What a TAP read with an offload request looks like, as the kernel writes one.
#[derive(Debug, Clone)]
struct Spec {
    v6: bool,
    udp: bool,
    /// TCP option bytes (a multiple of 4).
    options: usize,
    flags: u8,
    mss: u16,
    ip_id: u16,
    seq: u32,
    payload: Vec<u8>,
}

impl Spec {
    fn tcp(v6: bool, payload_len: usize, mss: u16) -> Self {
        Self {
            v6,
            udp: false,
            options: 12,
            flags: 0x10 | TCP_PSH,
            mss,
            ip_id: 0xfff0,
            seq: 0xffff_f000,
            payload: (0..payload_len).map(|i| (i * 31 % 253) as u8).collect(),
        }
    }

    fn udp(v6: bool, payload_len: usize, mss: u16) -> Self {
        Self {
            udp: true,
            options: 0,
            flags: 0,
            ..Self::tcp(v6, payload_len, mss)
        }
    }

    fn l3(&self) -> usize {
        ETH_LEN
    }

    fn l4(&self) -> usize {
        ETH_LEN + if self.v6 { 40 } else { 20 }
    }

    fn l4_len(&self) -> usize {
        if self.udp { 8 } else { 20 + self.options }
    }

    /// The read: virtio-net header, then the frame with the lengths of the whole and the
    /// pseudo-header's sum in the checksum field (CHECKSUM_PARTIAL).
    fn read(&self) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        f.extend_from_slice(if self.v6 {
            &[0x86, 0xdd]
        } else {
            &[0x08, 0x00]
        });
        let l4_total = self.l4_len() + self.payload.len();
        let proto = if self.udp { 17 } else { 6 };
        if self.v6 {
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(l4_total as u16).to_be_bytes());
            f.extend_from_slice(&[proto, 64]);
            f.extend_from_slice(&SRC6);
            f.extend_from_slice(&DST6);
        } else {
            f.extend_from_slice(&[0x45, 0x02]);
            f.extend_from_slice(&((20 + l4_total) as u16).to_be_bytes());
            f.extend_from_slice(&self.ip_id.to_be_bytes());
            f.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
            f.extend_from_slice(&SRC4);
            f.extend_from_slice(&DST4);
            let c = !checksum::sum(&f[ETH_LEN..ETH_LEN + 20], 0);
            f[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&c.to_be_bytes());
        }
        let l4 = f.len();
        if self.udp {
            f.extend_from_slice(&[0x30, 0x39, 0x13, 0x88]);
            f.extend_from_slice(&(l4_total as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0]);
        } else {
            f.extend_from_slice(&[0xc3, 0x50, 0x00, 0x16]);
            f.extend_from_slice(&self.seq.to_be_bytes());
            f.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            f.push(((self.l4_len() / 4) as u8) << 4);
            f.push(self.flags);
            f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
            // Options: NOPs and a timestamp.
            for j in 0..self.options {
                f.push(if j < 2 { 1 } else { (j as u8) | 0x40 });
            }
        }
        let addrs = if self.v6 {
            ETH_LEN + 8..ETH_LEN + 40
        } else {
            ETH_LEN + 12..ETH_LEN + 20
        };
        let seed = checksum::pseudo_header(&f[addrs], proto, l4_total as u32);
        let field = l4 + if self.udp { 6 } else { 16 };
        f[field..field + 2].copy_from_slice(&seed.to_be_bytes());
        f.extend_from_slice(&self.payload);
        let gso_type = match (self.udp, self.v6) {
            (true, _) => GSO_UDP_L4,
            (false, false) => GSO_TCPV4,
            (false, true) => GSO_TCPV6,
        };
        let hdr = VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: gso_type
                | if self.flags & TCP_CWR != 0 {
                    GSO_ECN
                } else {
                    0
                },
            hdr_len: (l4 + self.l4_len()) as u16,
            gso_size: self.mss,
            csum_start: l4 as u16,
            csum_offset: if self.udp { 6 } else { 16 },
        };
        let mut read = hdr.encode().to_vec();
        read.extend_from_slice(&f);
        read
    }
}

fn run(read: &mut [u8]) -> Result<Vec<Vec<u8>>, SegmentError> {
    let mut out = Vec::new();
    let n = Segmenter::new().segment(read, &mut |f| out.push(f.to_vec()))?;
    assert_eq!(n, out.len());
    Ok(out)
}

/// Checks every header of one segment as a receiver would (lengths, IP and transport
/// checksums) and returns its payload.
fn check_segment<'a>(s: &Spec, seg: &'a [u8]) -> &'a [u8] {
    let (l3, l4) = (s.l3(), s.l4());
    let proto = if s.udp { 17 } else { 6 };
    let addrs = if s.v6 {
        assert_eq!(
            usize::from(u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]])),
            seg.len() - l4
        );
        l3 + 8..l3 + 40
    } else {
        assert_eq!(
            usize::from(u16::from_be_bytes([seg[l3 + 2], seg[l3 + 3]])),
            seg.len() - l3
        );
        assert_eq!(
            checksum::sum(&seg[l3..l4], 0),
            0xffff,
            "IPv4 header checksum"
        );
        l3 + 12..l3 + 20
    };
    let pseudo = checksum::pseudo_header(&seg[addrs], proto, (seg.len() - l4) as u32);
    assert_eq!(
        checksum::sum(&seg[l4..], pseudo),
        0xffff,
        "transport checksum"
    );
    if s.udp {
        assert_eq!(
            usize::from(u16::from_be_bytes([seg[l4 + 4], seg[l4 + 5]])),
            seg.len() - l4
        );
    }
    &seg[l4 + s.l4_len()..]
}

fn check_all(s: &Spec, segs: &[Vec<u8>]) {
    let mss = usize::from(s.mss);
    let wire: usize = segs.iter().map(Vec::len).sum();
    assert_eq!(
        wire_len(&s.read()),
        wire,
        "the shaper's count of the bytes sent"
    );
    assert_eq!(segs.len(), s.payload.len().div_ceil(mss).max(1));
    let read = s.read();
    let mut joined = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let p = check_segment(s, seg);
        let last = i + 1 == segs.len();
        assert!(p.len() == mss || last && p.len() <= mss, "segment {i}");
        joined.extend_from_slice(p);
        let (l3, l4) = (s.l3(), s.l4());
        if !s.v6 {
            let id = u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]]);
            assert_eq!(id, s.ip_id.wrapping_add(i as u16), "IPv4 id of segment {i}");
        }
        if !s.udp {
            let seq = u32::from_be_bytes([seg[l4 + 4], seg[l4 + 5], seg[l4 + 6], seg[l4 + 7]]);
            assert_eq!(seq, s.seq.wrapping_add((i * mss) as u32), "seq of {i}");
            let flags = seg[l4 + 13];
            let mut expect = s.flags;
            if !last {
                expect &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 {
                expect &= !TCP_CWR;
            }
            assert_eq!(flags, expect, "flags of segment {i}");
            // Options travel on every segment unchanged.
            let opts = &seg[l4 + 20..l4 + s.l4_len()];
            let orig = &read[VNET_HDR_LEN + l4 + 20..VNET_HDR_LEN + l4 + s.l4_len()];
            assert_eq!(opts, orig);
        }
    }
    assert_eq!(
        joined, s.payload,
        "the payload, in order, nothing lost or added"
    );
}

#[test]
fn a_64_kib_tcp_frame_becomes_mss_sized_segments_in_both_families() {
    for v6 in [false, true] {
        // The MSS of a 1500-byte MTU with timestamps, 45 of them: what Linux puts in one frame.
        let mss = if v6 { 1428 } else { 1448 };
        let s = Spec::tcp(v6, 45 * mss, mss as u16);
        let segs = run(&mut s.read()).expect("segments");
        assert_eq!(segs.len(), 45, "v6 {v6}");
        check_all(&s, &segs);
        // Every segment but the last fits the link's 1500-byte MTU exactly.
        assert!(segs[..44].iter().all(|f| f.len() == ETH_LEN + 1500));
    }
}

#[test]
fn fin_and_psh_ride_on_the_last_segment_and_cwr_on_the_first() {
    let mut s = Spec::tcp(false, 5000, 1000);
    s.flags = 0x10 | TCP_PSH | TCP_FIN | TCP_CWR | 0x40; // ACK PSH FIN CWR ECE
    let segs = run(&mut s.read()).expect("segments");
    assert_eq!(segs.len(), 5);
    check_all(&s, &segs);
    let flags: Vec<u8> = segs.iter().map(|f| f[s.l4() + 13]).collect();
    assert_eq!(flags, [0xd0, 0x50, 0x50, 0x50, 0x59]);
}

#[test]
fn sequence_numbers_and_ipv4_ids_wrap() {
    let s = Spec::tcp(false, 30_000, 1448);
    assert!(s.seq > u32::MAX - 30_000 && s.ip_id > u16::MAX - 21);
    check_all(&s, &run(&mut s.read()).expect("segments"));
}

#[test]
fn a_udp_burst_becomes_its_datagrams_with_their_own_lengths() {
    for v6 in [false, true] {
        // 20 datagrams of 1200 bytes and a last one of 345.
        let s = Spec::udp(v6, 20 * 1200 + 345, 1200);
        let segs = run(&mut s.read()).expect("segments");
        assert_eq!(segs.len(), 21);
        check_all(&s, &segs);
        assert_eq!(segs[20].len(), s.l4() + 8 + 345);
    }
}

#[test]
fn every_size_class_from_one_byte_to_the_whole_frame() {
    for len in [0, 1, 2, 1447, 1448, 1449, 2896, 2897, 9000, 32_768, 65_000] {
        for v6 in [false, true] {
            let mut s = Spec::tcp(v6, len, 1448);
            s.options = if len % 2 == 0 { 0 } else { 12 };
            let max = 65_535 - (s.l4() - ETH_LEN) - s.l4_len();
            s.payload.truncate(max);
            check_all(&s, &run(&mut s.read()).expect("segments"));
            let u = Spec::udp(v6, len.min(max), 1472);
            check_all(&u, &run(&mut u.read()).expect("segments"));
        }
    }
}

#[test]
fn an_odd_segment_size_still_gives_correct_checksums() {
    let s = Spec::tcp(true, 10_001, 999);
    check_all(&s, &run(&mut s.read()).expect("segments"));
    let u = Spec::udp(false, 10_001, 333);
    check_all(&u, &run(&mut u.read()).expect("segments"));
}

#[test]
fn a_frame_behind_a_vlan_tag_is_segmented_behind_it() {
    let s = Spec::tcp(false, 4000, 1448);
    let read = s.read();
    let mut tagged = read[..VNET_HDR_LEN + 12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    tagged.extend_from_slice(&read[VNET_HDR_LEN + 12..]);
    let mut hdr = VnetHeader::parse(&tagged).expect("header");
    hdr.csum_start += 4;
    tagged[..VNET_HDR_LEN].copy_from_slice(&hdr.encode());
    let segs = run(&mut tagged).expect("segments");
    assert_eq!(segs.len(), 3);
    // Untag each segment and check it as an untagged one.
    let untagged: Vec<Vec<u8>> = segs.iter().map(|f| [&f[..12], &f[16..]].concat()).collect();
    assert!(segs.iter().all(|f| f[12..16] == [0x81, 0x00, 0x00, 0x64]));
    check_all(&s, &untagged);
}

#[test]
fn a_plain_frame_passes_as_it_is_and_a_partial_checksum_is_completed() {
    let s = Spec::tcp(false, 700, 1448);
    let mut read = s.read();
    let frame = read[VNET_HDR_LEN..].to_vec();
    // Plain: no offload asked, the bytes come out untouched (even a wrong checksum).
    read[..VNET_HDR_LEN].copy_from_slice(&[0; VNET_HDR_LEN]);
    assert_eq!(
        run(&mut read.clone()).expect("segments"),
        vec![frame.clone()]
    );
    // Checksum only.
    let hdr = VnetHeader {
        flags: F_NEEDS_CSUM,
        csum_start: s.l4() as u16,
        csum_offset: 16,
        ..VnetHeader::default()
    };
    read[..VNET_HDR_LEN].copy_from_slice(&hdr.encode());
    let out = run(&mut read).expect("segments");
    assert_eq!(out.len(), 1);
    assert_eq!(check_segment(&s, &out[0]), &s.payload[..]);
    let mut u = Spec::udp(true, 300, 1448).read();
    let hdr = VnetHeader {
        flags: F_NEEDS_CSUM,
        csum_start: (ETH_LEN + 40) as u16,
        csum_offset: 6,
        ..VnetHeader::default()
    };
    u[..VNET_HDR_LEN].copy_from_slice(&hdr.encode());
    let out = run(&mut u).expect("segments");
    check_segment(&Spec::udp(true, 300, 1448), &out[0]);
}

#[test]
fn what_cannot_be_segmented_is_an_error_not_a_guess() {
    let s = Spec::tcp(false, 4000, 1448);
    let good = s.read();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut r = good.clone();
        f(&mut r);
        run(&mut r)
    };
    assert_eq!(run(&mut good[..12].to_vec()), Err(SegmentError::Short));
    assert_eq!(
        with(&|r| r[1] = 3), // VIRTIO_NET_HDR_GSO_UDP (UFO), never offered
        Err(SegmentError::GsoType(3))
    );
    assert_eq!(
        with(&|r| r[1] = GSO_TCPV6), // says IPv6, carries IPv4
        Err(SegmentError::Network)
    );
    assert_eq!(
        with(&|r| r[4..6].copy_from_slice(&0u16.to_ne_bytes())),
        Err(SegmentError::SegmentSize)
    );
    assert_eq!(
        with(&|r| r[VNET_HDR_LEN + ETH_LEN + 9] = 17), // UDP in a TCP frame
        Err(SegmentError::Transport)
    );
    assert_eq!(
        with(&|r| r[6..8].copy_from_slice(&40u16.to_ne_bytes())), // csum_start off the header
        Err(SegmentError::Transport)
    );
    assert_eq!(
        with(&|r| r.truncate(VNET_HDR_LEN + 34 + 19)), // a TCP header cut short
        Err(SegmentError::Transport)
    );
    let mut csum_only = good.clone();
    csum_only[..VNET_HDR_LEN].copy_from_slice(
        &VnetHeader {
            flags: F_NEEDS_CSUM,
            csum_start: 60_000,
            ..VnetHeader::default()
        }
        .encode(),
    );
    assert_eq!(run(&mut csum_only), Err(SegmentError::ChecksumOutside));
}

proptest! {
    #[test]
    fn any_bytes_are_taken_without_a_panic(mut read in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = wire_len(&read);
        let _ = run(&mut read);
    }

    #[test]
    fn any_frame_and_segment_size_round_trip(
        v6 in any::<bool>(),
        udp in any::<bool>(),
        len in 0usize..20_000,
        mss in 1u16..9000,
        flags in any::<u8>(),
        seq in any::<u32>(),
        ip_id in any::<u16>(),
    ) {
        let mut s = if udp { Spec::udp(v6, len, mss) } else { Spec::tcp(v6, len, mss) };
        s.seq = seq;
        s.ip_id = ip_id;
        if !udp {
            s.flags = flags;
        }
        check_all(&s, &run(&mut s.read()).expect("segments"));
    }
}

/// The segmenter against the kernel's own software segmentation: the same frames go through a
/// packet socket (with their virtio-net header) to a TAP that has no offloads, so the kernel
/// segments them and computes their checksums before the TAP hands them to the reader; those
/// must be byte for byte what [`Segmenter`] makes. Needs root (a network namespace, a TAP and a
/// packet socket); CI runs as root.
mod kernel {
    use super::*;
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
    use std::time::{Duration, Instant};

    /// A network namespace of this test's own, removed by its exact name even on failure.
    struct Netns(String);

    impl Netns {
        fn new() -> Self {
            let name = format!("xcseg-{}", std::process::id());
            let ok = std::process::Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "`ip netns add {name}` failed: this test needs root");
            Self(name)
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }

    /// The source MAC of the test frames: what the TAP reads from anyone else is not ours.
    const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

    /// Sends each read through a packet socket to a TAP without offloads and returns, for each,
    /// the frames the TAP gave back.
    #[allow(unsafe_code)]
    fn kernel_segments(ns: &str, reads: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
        let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns handle");
        let reads = reads.to_vec();
        std::thread::spawn(move || {
            nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let tap = tun_rs::DeviceBuilder::new()
                .name("xcseg0")
                .layer(tun_rs::Layer::L2)
                .mac_addr([0x02, 0, 0, 0, 0, 0xaa])
                .mtu(9000)
                .offload(true)
                .build_sync()
                .expect("TAP");
            crate::offload::set_tap_offloads(tap.as_fd(), 0).expect("offloads off");
            tap.set_nonblocking(true).expect("nonblocking");
            let ifindex = nix::net::if_::if_nametoindex("xcseg0").expect("ifindex");
            // SAFETY: plain socket(2) and setsockopt(2) calls with valid arguments; the
            // descriptor is owned at once.
            let sock = unsafe {
                let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
                assert!(
                    fd >= 0,
                    "packet socket: {}",
                    std::io::Error::last_os_error()
                );
                let sock = OwnedFd::from_raw_fd(fd);
                let on: libc::c_int = 1;
                let rc = libc::setsockopt(
                    fd,
                    libc::SOL_PACKET,
                    libc::PACKET_VNET_HDR,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
                assert_eq!(rc, 0, "PACKET_VNET_HDR");
                sock
            };
            let mut buf = vec![0u8; 70_000];
            let mut out = Vec::new();
            for read in &reads {
                let ethertype =
                    u16::from_be_bytes([read[VNET_HDR_LEN + 12], read[VNET_HDR_LEN + 13]]);
                // SAFETY: `sll` is a zeroed sockaddr_ll with its family, protocol and interface
                // set; sendto(2) reads `read.len()` bytes of `read` and `size_of(sll)` of `sll`.
                let sent = unsafe {
                    let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                    sll.sll_family = libc::AF_PACKET as u16;
                    sll.sll_protocol = ethertype.to_be();
                    sll.sll_ifindex = ifindex as i32;
                    libc::sendto(
                        sock.as_raw_fd(),
                        read.as_ptr().cast(),
                        read.len(),
                        0,
                        (&sll as *const libc::sockaddr_ll).cast(),
                        std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                    )
                };
                assert_eq!(
                    sent,
                    read.len() as isize,
                    "packet socket send: {}",
                    std::io::Error::last_os_error()
                );
                let expect = run(&mut read.clone()).expect("segmenter").len();
                let mut frames = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(10);
                while frames.len() < expect && Instant::now() < deadline {
                    match tap.recv(&mut buf) {
                        Ok(n) if n > VNET_HDR_LEN + 14 => {
                            let f = &buf[VNET_HDR_LEN..n];
                            if f[6..12] == SRC_MAC {
                                frames.push(f.to_vec());
                            }
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(e) => panic!("TAP read: {e}"),
                    }
                }
                out.push(frames);
            }
            out
        })
        .join()
        .expect("the namespace thread")
    }

    #[test]
    fn the_kernel_cuts_the_same_frames_needs_root() {
        let mut specs = Vec::new();
        for v6 in [false, true] {
            let mss = if v6 { 1428 } else { 1448 };
            // A 64 KiB TCP frame, with FIN, PSH, CWR and ECE to place.
            let mut s = Spec::tcp(v6, 45 * mss, mss as u16);
            s.flags = 0x10 | TCP_PSH | TCP_FIN | TCP_CWR | 0x40;
            specs.push(s);
            // Every size class: one byte, one short of the MSS, one over, several and a tail,
            // a jumbo MSS.
            for (len, mss) in [
                (1, 1448),
                (1447, 1448),
                (1449, 1448),
                (10_001, 999),
                (20_000, 8948),
            ] {
                let mut s = Spec::tcp(v6, len, mss);
                s.options = 0;
                specs.push(s);
            }
            // UDP GSO bursts: equal datagrams, and a shorter last one.
            specs.push(Spec::udp(v6, 40 * 1200, 1200));
            specs.push(Spec::udp(v6, 20 * 1400 + 77, 1400));
        }
        let reads: Vec<Vec<u8>> = specs
            .iter()
            .map(|s| {
                let mut r = s.read();
                r[VNET_HDR_LEN + 6..VNET_HDR_LEN + 12].copy_from_slice(&SRC_MAC);
                r
            })
            .collect();
        let ns = Netns::new();
        let kernel = kernel_segments(&ns.0, &reads);
        for ((spec, read), theirs) in specs.iter().zip(&reads).zip(&kernel) {
            let ours = run(&mut read.clone()).expect("segmenter");
            let what = format!(
                "{} {} payload {} mss {}",
                if spec.v6 { "IPv6" } else { "IPv4" },
                if spec.udp { "UDP" } else { "TCP" },
                spec.payload.len(),
                spec.mss
            );
            assert_eq!(theirs.len(), ours.len(), "{what}: segment count");
            for (i, (k, o)) in theirs.iter().zip(&ours).enumerate() {
                assert_eq!(k.len(), o.len(), "{what}: length of segment {i}");
                if k != o {
                    let at = k.iter().zip(o).position(|(a, b)| a != b).unwrap_or(0);
                    panic!(
                        "{what}: segment {i} differs from byte {at}: kernel {:02x?}, ours {:02x?}",
                        &k[at.saturating_sub(4)..(at + 8).min(k.len())],
                        &o[at.saturating_sub(4)..(at + 8).min(o.len())]
                    );
                }
            }
        }
    }
}
