package wifi

import (
	"cpe/internal/leaktest"
	"testing"
)

func checkLeaks(t *testing.T) { leaktest.Check(t) }
