module example.gov/civic-feedback/sign-rating-token

go 1.19
