// Command gophercloud_list authenticates with the usual OS_* variables (password, project
// scope: what clouds.yaml users and OSC's environment give), then prints the sorted names of the images (glance) and of the
// flavors (nova), one list a line: the stable output the proxy e2e test compares.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud"
	"github.com/gophercloud/gophercloud/openstack"
	"github.com/gophercloud/gophercloud/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/openstack/imageservice/v2/images"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "gophercloud_list: %s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	// NOTE: built here, not by openstack.AuthOptionsFromEnv: gophercloud 0.12 (Debian
	// bookworm) reads neither OS_USER_DOMAIN_NAME nor OS_PROJECT_DOMAIN_NAME.
	opts := gophercloud.AuthOptions{
		IdentityEndpoint: os.Getenv("OS_AUTH_URL"),
		Username:         os.Getenv("OS_USERNAME"),
		Password:         os.Getenv("OS_PASSWORD"),
		DomainName:       os.Getenv("OS_USER_DOMAIN_NAME"),
		Scope: &gophercloud.AuthScope{
			ProjectName: os.Getenv("OS_PROJECT_NAME"),
			DomainName:  os.Getenv("OS_PROJECT_DOMAIN_NAME"),
		},
	}
	provider, err := openstack.AuthenticatedClient(opts)
	if err != nil {
		fail("authenticate", err)
	}
	endpoint := gophercloud.EndpointOpts{Region: os.Getenv("OS_REGION_NAME")}

	glance, err := openstack.NewImageServiceV2(provider, endpoint)
	if err != nil {
		fail("image service", err)
	}
	pages, err := images.List(glance, images.ListOpts{}).AllPages()
	if err != nil {
		fail("list images", err)
	}
	imageList, err := images.ExtractImages(pages)
	if err != nil {
		fail("images", err)
	}
	var names []string
	for _, image := range imageList {
		names = append(names, image.Name)
	}
	sort.Strings(names)
	fmt.Printf("images: %s\n", strings.Join(names, ","))

	nova, err := openstack.NewComputeV2(provider, endpoint)
	if err != nil {
		fail("compute service", err)
	}
	pages, err = flavors.ListDetail(nova, flavors.ListOpts{}).AllPages()
	if err != nil {
		fail("list flavors", err)
	}
	flavorList, err := flavors.ExtractFlavors(pages)
	if err != nil {
		fail("flavors", err)
	}
	names = nil
	for _, flavor := range flavorList {
		names = append(names, flavor.Name)
	}
	sort.Strings(names)
	fmt.Printf("flavors: %s\n", strings.Join(names, ","))
}
