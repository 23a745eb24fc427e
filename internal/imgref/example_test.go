package imgref_test

import (
	"fmt"

	"github.com/bootc-go/bootc/internal/imgref"
)

func ExampleParse() {
	r, err := imgref.Parse("ostree-remote-registry:fedora:quay.io/fedora/fedora-bootc:42")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Sigverify.Remote, r.Imgref.Transport, r.Imgref.Name)
	fmt.Println(r)
	fmt.Println(imgref.ImageRef(r.Imgref))
	// Output:
	// fedora registry quay.io/fedora/fedora-bootc:42
	// ostree-remote-image:fedora:docker://quay.io/fedora/fedora-bootc:42
	// ostree/container/image/docker_3A__2F__2F_quay_2E_io/fedora/fedora-bootc_3A_42
}

func ExampleFromCLI() {
	r, err := imgref.FromCLI("localhost/bootc", "containers-storage", true)
	if err != nil {
		panic(err)
	}
	fmt.Println(r)
	fmt.Println(r.Imgref.ContainersImageName())
	// Output:
	// ostree-image-signed:containers-storage:localhost/bootc
	// containers-storage:localhost/bootc
}

func ExampleBlobRef() {
	fmt.Println(imgref.BlobRef("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"))
	// Output:
	// ostree/container/blob/sha256_3A_2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
}
