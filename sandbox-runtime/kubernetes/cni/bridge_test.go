package cni

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// addBridge adds a bridge interface to the current network namespace with a
// raw RTM_NEWLINK message.
func addBridge() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	attr := func(typ uint16, data []byte) []byte {
		l := 4 + len(data)
		b := make([]byte, (l+3)&^3)
		b[0], b[1] = byte(l), byte(l>>8)
		b[2], b[3] = byte(typ), byte(typ>>8)
		copy(b[4:], data)
		return b
	}
	kind := attr(unix.IFLA_INFO_KIND, []byte("bridge\x00"))
	info := attr(unix.IFLA_LINKINFO, kind)
	name := attr(unix.IFLA_IFNAME, []byte("br0\x00"))
	body := append(make([]byte, unix.SizeofIfInfomsg), append(name, info...)...)
	msg := make([]byte, unix.SizeofNlMsghdr)
	total := len(msg) + len(body)
	*(*uint32)(ptr(msg[0:])) = uint32(total)
	*(*uint16)(ptr(msg[4:])) = unix.RTM_NEWLINK
	*(*uint16)(ptr(msg[6:])) = unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_EXCL | unix.NLM_F_ACK
	*(*uint32)(ptr(msg[8:])) = 1
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := int32(uint32(m.Data[0]) | uint32(m.Data[1])<<8 | uint32(m.Data[2])<<16 | uint32(m.Data[3])<<24); code != 0 {
				return unix.Errno(-code)
			}
		}
	}
	return nil
}
