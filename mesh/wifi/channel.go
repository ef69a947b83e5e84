package wifi

import "fmt"

// Frequency returns the centre frequency in MHz of an 802.11 channel: 1 to
// 14 on 2.4 GHz, 36 to 177 on 5 GHz (the range the box's configuration
// accepts; whether the radio and the regulatory domain allow a channel is
// the kernel's to say when the mesh is joined).
func Frequency(channel int) (int, error) {
	switch {
	case channel == 14:
		return 2484, nil // Japan's channel 14 is off the 5 MHz grid
	case channel >= 1 && channel <= 13:
		return 2407 + 5*channel, nil
	case channel >= 36 && channel <= 177:
		return 5000 + 5*channel, nil
	}
	return 0, fmt.Errorf("wifi: channel %d: not in 1..14 (2.4 GHz) or 36..177 (5 GHz)", channel)
}
